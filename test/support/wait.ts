/** Polls `check` until it holds; fails naming `what` after `timeoutMs`. */
export async function until(check: () => boolean, what = 'condition', timeoutMs = 10_000): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error(`${what}: not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
