/** What a caller did wrong; the distributor's state is unchanged when one is thrown. */
export type DistributorErrorCode =
  | "INVALID_OPTIONS"
  | "INVALID_BINDING"
  | "NOT_OWN_BINDING"
  | "DUPLICATE"
  | "LIMIT"
  | "NOT_FOUND"
  | "INVALID_PEER"
  | "SELF"
  | "ALREADY_UP";

export class DistributorError extends Error {
  override readonly name = "DistributorError";
  constructor(
    readonly code: DistributorErrorCode,
    message: string,
  ) {
    super(`${code}: ${message}`);
  }
}
