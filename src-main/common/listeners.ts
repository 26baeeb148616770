/**
 * The one listener set: `add` returns its own unsubscribe, `emit` calls each listener on a copy
 * (so a listener may unsubscribe while it runs) and a listener that throws is reported to
 * `onError` without stopping the others (a closed window must not stop a job's events).
 * Used by the service, the transports, the preload and the renderer's fake service.
 */
export interface Listeners<T> {
  add(listener: (value: T) => void): () => void;
  emit(value: T): void;
  clear(): void;
  readonly size: number;
}

export function listeners<T>(onError: (err: unknown) => void = () => {}): Listeners<T> {
  const set = new Set<(value: T) => void>();
  return {
    add(listener) {
      set.add(listener);
      return () => {
        set.delete(listener);
      };
    },
    emit(value) {
      for (const l of [...set]) {
        try {
          l(value);
        } catch (err) {
          onError(err);
        }
      }
    },
    clear() {
      set.clear();
    },
    get size() {
      return set.size;
    },
  };
}
