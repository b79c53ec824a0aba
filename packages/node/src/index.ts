export { CRYPTO_MTU_OVERHEAD } from "./crypto.js";
export { isNodeError, NodeError, type NodeErrorCode } from "./errors.js";
export { createNode, DEFAULT_MAX_QUEUED_EVENTS, realTimeClock } from "./node.js";
export type * from "./types.js";
