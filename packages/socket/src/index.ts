export type { SocketErrorCode } from "./errors.js";
export { isSocketError, SocketError } from "./errors.js";
export type { SocketLayer } from "./socket-layer.js";
export {
  createSocketLayer,
  RCVBUF_DEF,
  TIPC_MAX_PORT,
  TIPC_METHOD_EXPIRE,
  TIPC_MIN_PORT,
} from "./socket-layer.js";
export type * from "./types.js";
