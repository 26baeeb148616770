/** The first line of an error's message, bounded: what `tried` and loader errors show. */
export function reasonOf(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  const first = msg.split('\n')[0].trim();
  return first.length > 300 ? `${first.slice(0, 297)}...` : first;
}
