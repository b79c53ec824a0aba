import { NODE_ID_LEN } from "@tipcjs/codec";

/** The kernel's hash128to32: XOR of the four big-endian words; if that is 0, their OR (§9). */
export function hash128to32(id: Uint8Array): number {
  const b = padId(id);
  const dv = new DataView(b.buffer, b.byteOffset, NODE_ID_LEN);
  let x = 0;
  let o = 0;
  for (let i = 0; i < 4; i++) {
    const w = dv.getUint32(i * 4);
    x ^= w;
    o |= w;
  }
  return (x || o) >>> 0;
}

/** A 16-byte node id, zero-padded (the kernel's `tipc node set identity NAME`). */
export function padId(id: Uint8Array): Uint8Array {
  if (id.length === NODE_ID_LEN) return id;
  const out = new Uint8Array(NODE_ID_LEN);
  out.set(id.subarray(0, NODE_ID_LEN));
  return out;
}

/** Node id from a string such as "guest1" (at most 16 bytes, zero-padded). */
export function nodeIdFromString(s: string): Uint8Array {
  return padId(new TextEncoder().encode(s));
}

const PRINTABLE = /^[0-9A-Za-z.:_@-]$/;

/** As the kernel shows ids: the text if every byte is in [0-9A-Za-z.:_@-] or NUL, else hex without trailing zeros. */
export function nodeIdString(id: Uint8Array): string {
  let text = "";
  let printable = true;
  for (const c of id) {
    if (c === 0) continue;
    const ch = String.fromCharCode(c);
    if (!PRINTABLE.test(ch)) {
      printable = false;
      break;
    }
    text += ch;
  }
  if (printable && text.length > 0) return text;
  let hex = "";
  for (const c of id) hex += c.toString(16).padStart(2, "0");
  return hex.replace(/0+$/, "") || "0";
}
