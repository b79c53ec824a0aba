/**
 * Argument checks shared by every entry point of the table. Each throws {@link NameTableError}
 * before anything is changed, so a refused call leaves the table exactly as it was.
 */
import { NameTableError } from "./errors.js";
import type { BindingKey, Scope } from "./types.js";

/** How a refused value is shown in a message: the number itself, otherwise its type. */
export function describe(v: unknown): string {
  return typeof v === "number" ? String(v) : typeof v;
}

export function checkU32(v: unknown, field: string): void {
  if (typeof v !== "number" || v >>> 0 !== v) {
    throw new NameTableError(
      "NOT_U32",
      `${field} must be an integer in 0..0xFFFFFFFF, got ${describe(v)}`,
      field,
    );
  }
}

export function checkObject(v: unknown, what: string): void {
  if (typeof v !== "object" || v === null)
    throw new NameTableError("BAD_ARGUMENT", `${what} must be an object`);
}

export function checkRange(lower: number, upper: number): void {
  if (lower > upper) {
    throw new NameTableError("LOWER_ABOVE_UPPER", `lower ${lower} is above upper ${upper}`, "lower");
  }
}

/** A withdrawal's key: an object of u32 fields with lower <= upper (the port is not part of it). */
export function checkKey(key: BindingKey): void {
  checkObject(key, "key");
  checkU32(key.type, "type");
  checkU32(key.lower, "lower");
  checkU32(key.upper, "upper");
  checkU32(key.node, "node");
  checkU32(key.key, "key");
  checkRange(key.lower, key.upper);
}

export function checkScope(v: unknown, field = "scope"): asserts v is Scope {
  if (v !== "node" && v !== "cluster") {
    throw new NameTableError("BAD_SCOPE", `${field} must be "node" or "cluster", got ${describe(v)}`, field);
  }
}
