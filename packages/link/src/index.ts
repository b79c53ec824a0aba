/**
 * Node id helpers, from @tipcjs/codec (the home of every wire primitive) under the names this
 * package has always exported: `hash128to32` is the codec's `nodeAddressFromId`, `nodeIdString`
 * its `nodeIdToString`.
 */
export {
  nodeAddressFromId as hash128to32,
  nodeIdFromString,
  nodeIdToString as nodeIdString,
} from "@tipcjs/codec";
export type { BacklogState, LinkEngine, LinkPropertiesUpdate, UnicastMark } from "./api.js";
export { BROADCAST_LINK_NAME, createLinkEngine, DEFAULT_CAPABILITIES } from "./engine.js";
export { isLinkEngineError, LinkEngineError, type LinkEngineErrorCode } from "./errors.js";
export type {
  BearerInfo,
  LinkDownReason,
  LinkDropCause,
  LinkEngineOptions,
  LinkInfo,
  LinkOutput,
  LinkState,
  LinkStats,
  MediaAddress,
  MessageCodec,
  NodeInfo,
} from "./types.js";
export { LINK_DROP_CAUSES, MAX_BEARERS } from "./types.js";
