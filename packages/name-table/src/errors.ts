/** Why an input was refused. The table is left exactly as it was. */
export type NameTableErrorCode =
  /** A number field is not an integer in 0..0xFFFFFFFF. */
  | "NOT_U32"
  /** A service range with lower > upper. */
  | "LOWER_ABOVE_UPPER"
  /** A scope other than "node" or "cluster". */
  | "BAD_SCOPE"
  /** Some other argument is malformed (not an object, a bad mode, a timeout without `now`, ...). */
  | "BAD_ARGUMENT"
  /** `setOwnNode` to an address that already owns bindings in the table. */
  | "ADDRESS_IN_USE"
  /** Too many live subscriptions. */
  | "SUBSCRIPTION_LIMIT";

/** The one error the name table throws, for invalid input only (never for an expected miss). */
export class NameTableError extends Error {
  override readonly name = "NameTableError";
  constructor(
    readonly code: NameTableErrorCode,
    message: string,
    /** The offending field, when there is one. */
    readonly field?: string,
  ) {
    super(message);
  }
}

/** True when `e` is a {@link NameTableError} (also across duplicated package copies). */
export function isNameTableError(e: unknown): e is NameTableError {
  return (
    e instanceof NameTableError ||
    (typeof e === "object" &&
      e !== null &&
      (e as { name?: unknown }).name === "NameTableError" &&
      "code" in e)
  );
}
