export type { ConnectAddress, ConnectionOptions, ServerOptions } from "./connection.js";
export { TipcConnection, TipcServer } from "./connection.js";
export { CRYPTO_MTU_OVERHEAD } from "./crypto.js";
export { NODE_TRANSPORT_DROP_CAUSES, type NodeTransportDropCause } from "./drops.js";
export { isNodeError, NodeError, type NodeErrorCode } from "./errors.js";
export { createNode, DEFAULT_MAX_QUEUED_EVENTS, realTimeClock } from "./node.js";
export type * from "./types.js";
