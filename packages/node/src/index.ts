export { isNodeError, NodeError, type NodeErrorCode } from "./errors.js";
export { createNode, realTimeClock } from "./node.js";
export type * from "./types.js";
