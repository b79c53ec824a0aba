/** Why a node refused a call. The node's state is unchanged when one is thrown. */
export type NodeErrorCode =
  /** createNode options are missing or malformed */
  | "BAD_OPTIONS"
  /** an argument is malformed: not a u32, lower > upper, a bad scope or mode */
  | "BAD_ARGUMENT"
  /** a service type below 64 (reserved for TIPC itself, as the kernel refuses with EACCES) */
  | "RESERVED_TYPE"
  /** the same binding (type, lower, upper, key) is already published */
  | "DUPLICATE"
  /** the table or the subscription count is full */
  | "LIMIT"
  /**
   * a subscription's reader fell behind: the node's queued events (`maxQueuedEvents`) were used
   * up and this subscription, holding the most of them, was ended
   */
  | "OVERFLOW"
  /** the node is closing or closed, or the socket is */
  | "CLOSED"
  /** a send found no binding for its service address or range (the kernel's EHOSTUNREACH) */
  | "NO_SERVICE"
  /** a send's destination node is not up (EHOSTUNREACH) */
  | "NO_NODE"
  /** more than 66,000 bytes of data (EMSGSIZE) */
  | "MESSAGE_TOO_LARGE"
  /** unbind of a range the socket did not bind (EINVAL) */
  | "NOT_BOUND"
  /** a socket type not carried yet (seqpacket, stream) */
  | "NOT_SUPPORTED"
  /** the link is congested and the send may not wait (dontWait, or maxPendingSends reached: EAGAIN) */
  | "WOULD_BLOCK"
  /** a key cannot be taken now (the kernel's EBUSY: a pending key in use, or both spare slots taken) */
  | "BUSY";

/** The one error type @tipcjs/node throws. */
export class NodeError extends Error {
  override readonly name = "NodeError";
  readonly code: NodeErrorCode;
  constructor(code: NodeErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** True when `e` is a {@link NodeError} (also across duplicated package copies). */
export function isNodeError(e: unknown): e is NodeError {
  return (
    e instanceof NodeError ||
    (typeof e === "object" && e !== null && (e as { name?: unknown }).name === "NodeError" && "code" in e)
  );
}
