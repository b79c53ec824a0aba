export type { BacklogState, LinkEngine, UnicastMark } from "./api.js";
export { createLinkEngine, DEFAULT_CAPABILITIES } from "./engine.js";
export { hash128to32, nodeIdFromString, nodeIdString } from "./identity.js";
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
export { LinkEngineError, MAX_BEARERS } from "./types.js";
