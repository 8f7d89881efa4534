/** Polls `check` until it holds; fails naming `what` after `timeoutMs`. */
export async function until(check: () => boolean, what = 'condition', timeoutMs = 10_000): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error(`${what}: not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function contains(have: unknown, want: unknown): boolean {
  if (want !== null && typeof want === 'object') return Object.entries(want).every(([k, v]) => contains((have as Record<string, unknown> | undefined)?.[k], v));
  return have === want;
}

/**
 * Waits (up to `timeoutMs`) for `get()` to hold every field of `wanted`, and
 * returns what it holds then, for the caller's own expect(): figures another
 * thread reports (a media thread's counters) arrive a moment after the
 * sockets show what they count.
 */
export async function settled<T>(get: () => T, wanted: Record<string, unknown>, timeoutMs = 5_000): Promise<T> {
  await until(() => contains(get(), wanted), 'figures', timeoutMs).catch(() => undefined);
  return get();
}
