/** Why an input was refused. The table is left exactly as it was. */
export type NameTableErrorCode =
  /** A number field is not an integer in 0..0xFFFFFFFF. */
  | "not_u32"
  /** A service range with lower > upper. */
  | "lower_above_upper"
  /** A scope other than "node" or "cluster". */
  | "bad_scope"
  /** Some other argument is malformed (not an object, a bad mode, a timeout without `now`, ...). */
  | "bad_argument"
  /** `setOwnNode` to an address that already owns bindings in the table. */
  | "address_in_use"
  /** Too many live subscriptions. */
  | "subscription_limit";

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
