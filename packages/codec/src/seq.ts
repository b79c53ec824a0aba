/**
 * 16-bit serial-number arithmetic, the one place it lives (§0 conventions).
 * less_eq(a, b) is ((b - a) & 0xffff) < 32768.
 */
export function mod16(x: number): number {
  return x & 0xffff;
}
export function lessEq(a: number, b: number): boolean {
  return ((b - a) & 0xffff) < 0x8000;
}
export function less(a: number, b: number): boolean {
  return lessEq(a, b) && mod16(a) !== mod16(b);
}
export function more(a: number, b: number): boolean {
  return !lessEq(a, b);
}
/** b - a in the 16-bit serial space, as a signed distance in [-32768, 32767]. */
export function seqDiff(a: number, b: number): number {
  const d = (b - a) & 0xffff;
  return d >= 0x8000 ? d - 0x10000 : d;
}
