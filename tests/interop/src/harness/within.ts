/**
 * Polls `probe` until true and fails unless a probe started within `deadlineMs` of `since` saw it
 * (a guest probe is a serial command of a few hundred ms; its start is when the state was asked
 * for). Returns the ms from `since` to the end of the successful probe: an upper bound.
 */
export async function within(
  what: string,
  since: number,
  deadlineMs: number,
  probe: () => boolean | Promise<boolean>,
): Promise<number> {
  for (;;) {
    const issued = Date.now();
    if (issued - since > deadlineMs) throw new Error(`${what}: not within ${deadlineMs} ms`);
    if (await probe()) return Date.now() - since;
    await new Promise((r) => setTimeout(r, 20));
  }
}
