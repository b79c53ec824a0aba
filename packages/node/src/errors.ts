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
  /** an operation this socket type does not have (node.socket() is for rdm and dgram) */
  | "NOT_SUPPORTED"
  /** the socket is in the wrong state for the call (connect twice, listen when connected) */
  | "BAD_STATE"
  /** a connection call before the connection is established (ENOTCONN) */
  | "NOT_CONNECTED"
  /** a write after the connection ended (EPIPE) */
  | "CONNECTION_ENDED"
  /** the SYN came back rejected: no listener at the address (ECONNREFUSED) */
  | "CONNECTION_REFUSED"
  /** nothing answered the SYN within the connect timeout (ETIMEDOUT) */
  | "CONNECT_TIMEOUT"
  /** the peer closed its socket (TIPC_ERR_NO_PORT; ECONNRESET) */
  | "CONNECTION_RESET"
  /** the peer's node went down (TIPC_ERR_NO_NODE, within the link tolerance) */
  | "PEER_LOST"
  /** the peer did not answer a connection probe (ECONNABORTED) */
  | "CONNECTION_ABORTED"
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
