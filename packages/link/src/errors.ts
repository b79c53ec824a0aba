/** What a caller did wrong (or asked at the wrong time); the engine's state is unchanged. */
export type LinkEngineErrorCode =
  /** A send before the address trial ended. */
  | "NOT_ADDRESSED"
  /** `sendUnicast` to a node the engine does not know. */
  | "NO_SUCH_PEER"
  /** `sendUnicast` to a node with no link up. */
  | "PEER_DOWN"
  /** A message the codec cannot encode, or a discovery or link protocol message (the engine's own). */
  | "BAD_MESSAGE"
  /** A send after `stop()`. */
  | "STOPPED"
  /** A message beyond MAX_MSG_SIZE (66,000 bytes) once encoded. */
  | "TOO_LARGE"
  /** Engine options, a bearer index or a link property out of range. */
  | "BAD_OPTIONS"
  /** `setLinkProperties` for a link name the engine does not have. */
  | "NO_SUCH_LINK";

/** The one error the link engine throws, for caller mistakes only (never for bad network input). */
export class LinkEngineError extends Error {
  override readonly name = "LinkEngineError";
  constructor(
    readonly code: LinkEngineErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** True when `e` is a {@link LinkEngineError} (also across duplicated package copies). */
export function isLinkEngineError(e: unknown): e is LinkEngineError {
  return (
    e instanceof LinkEngineError ||
    (typeof e === "object" &&
      e !== null &&
      (e as { name?: unknown }).name === "LinkEngineError" &&
      "code" in e)
  );
}
