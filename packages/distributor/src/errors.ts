/** What a caller did wrong; the distributor's state is unchanged when one is thrown. */
export type DistributorErrorCode =
  /** `createDistributor` options missing or out of range. */
  | "INVALID_OPTIONS"
  /** A binding (or binding key) whose fields are not u32 integers, or with lower > upper. */
  | "INVALID_BINDING"
  /** A binding or key that names another node than this one. */
  | "NOT_OWN_BINDING"
  /** `publish` of a binding that exists already. */
  | "DUPLICATE"
  /** `publish` refused because the name table is full. */
  | "LIMIT"
  /** `withdraw` of a binding this node does not own. */
  | "NOT_FOUND"
  /** `nodeUp` with a bad address, capabilities or MTU. */
  | "INVALID_PEER"
  /** `nodeUp` of this node's own address. */
  | "SELF"
  /** `nodeUp` of a peer that is up already. */
  | "ALREADY_UP";

/** The one error the distributor throws, for caller mistakes only (never for bad network input). */
export class DistributorError extends Error {
  override readonly name = "DistributorError";
  constructor(
    readonly code: DistributorErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** True when `e` is a {@link DistributorError} (also across duplicated package copies). */
export function isDistributorError(e: unknown): e is DistributorError {
  return (
    e instanceof DistributorError ||
    (typeof e === "object" &&
      e !== null &&
      (e as { name?: unknown }).name === "DistributorError" &&
      "code" in e)
  );
}
