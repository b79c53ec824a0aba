/** Why the socket layer refused a call. The layer's state is unchanged when one is thrown. */
export type SocketErrorCode =
  /** createSocketLayer options are missing or malformed */
  | "BAD_OPTIONS"
  /** an argument is malformed: not a u32, lower > upper, a bad scope, type or importance */
  | "BAD_ARGUMENT"
  /** no open socket has this port */
  | "NO_SUCH_SOCKET"
  /** more data than TIPC_MAX_USER_MSG_SIZE (66,000 bytes): the kernel's EMSGSIZE */
  | "MESSAGE_TOO_LARGE"
  /** no binding matches the service address or range: the kernel's EHOSTUNREACH */
  | "NO_SERVICE"
  /** the destination node is not reachable (no link up): the kernel's EHOSTUNREACH */
  | "NO_NODE"
  /** a service type below 64 (reserved for TIPC itself; the kernel's EACCES) */
  | "RESERVED_TYPE"
  /** the socket already holds this binding, or its publication keys are used up (EADDRINUSE) */
  | "DUPLICATE"
  /** the node's own bindings reached TIPC_MAX_PUBL (65,535), or every port is taken */
  | "LIMIT"
  /** unbind of a range this socket did not bind (the kernel's EINVAL) */
  | "NOT_BOUND"
  /** an operation this socket type does not have (the kernel's EOPNOTSUPP) */
  | "NOT_SUPPORTED"
  /** the socket is in the wrong state for this call: listen on a connected socket, connect twice (EISCONN, EINVAL) */
  | "BAD_STATE"
  /** a connection call on a socket that is not connected (ENOTCONN) */
  | "NOT_CONNECTED"
  /** a send on a connection that has ended (EPIPE); the message names the reason */
  | "CONNECTION_ENDED";

/** The one error type @tipcjs/socket throws; its `code` says which, its message (without the code) says why. */
export class SocketError extends Error {
  override readonly name = "SocketError";
  readonly code: SocketErrorCode;
  constructor(code: SocketErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

/** True when `e` is a {@link SocketError} (also across duplicated package copies). */
export function isSocketError(e: unknown): e is SocketError {
  return (
    e instanceof SocketError ||
    (typeof e === "object" && e !== null && (e as { name?: unknown }).name === "SocketError" && "code" in e)
  );
}
