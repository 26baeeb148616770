// jsdom lacks ResizeObserver (Svelte's bind:clientHeight uses it); a no-op is enough for tests.
if (!('ResizeObserver' in globalThis)) {
  (globalThis as { ResizeObserver?: unknown }).ResizeObserver = class {
    observe() {}
    unobserve() {}
    disconnect() {}
  };
}
