export type { CapabilityName } from "./address.js";
export {
  CAPABILITY_NAMES,
  canonicalMediaAddress,
  capabilitiesFromNames,
  capabilityNames,
  decodeMediaAddress,
  encodeMediaAddress,
  formatIpv4,
  formatIpv6,
  formatMediaAddress,
  isMediaAddress,
  isMulticastAddress,
  MEDIA_INFO_SIZE,
  mediaAddressEquals,
  mediaAddressKey,
  nodeAddressFromId,
  nodeAddressToString,
  nodeIdFromString,
  nodeIdToString,
  padNodeId,
  parseIpv4,
  parseIpv6,
  writeMediaAddress,
} from "./address.js";
export type { BundleFields } from "./bundle.js";
export {
  bundleMessages,
  bundleSize,
  canBundle,
  fitsInBundle,
  messageImportance,
  unbundle,
} from "./bundle.js";
export type { ConnManagerFields } from "./conn-manager.js";
export { CONN_MANAGER_HEADER_SIZE, connManagerFields, connManagerMessage } from "./conn-manager.js";
export * from "./constants.js";
export { decodeMessage, validateHeader } from "./decode.js";
export { encodedSize, encodeInto, encodeMessage } from "./encode.js";
export type { TipcDecodeErrorCode, TipcEncodeErrorCode } from "./errors.js";
export { isTipcDecodeError, isTipcEncodeError, TipcDecodeError, TipcEncodeError } from "./errors.js";
export { formatMessage, messageToJSON } from "./format.js";
export type { FragmentFields, ReassemblerOptions } from "./fragment.js";
export { fragmentMessage, Reassembler } from "./fragment.js";
export type { HeaderSummary, LinkFields, LinkHeader } from "./header.js";
export {
  isBcAckInvalid,
  isNonSeq,
  peekAck,
  peekBcastAck,
  peekDestNode,
  peekHeader,
  peekImportance,
  peekPrevNode,
  peekSeqno,
  peekTypeValue,
  peekUser,
  peekUserValue,
  readHeaderSize,
  readLinkHeader,
  readMessageSize,
  writeAcks,
  writeLinkFields,
  writeSeqno,
} from "./header.js";
export { MinHeap } from "./heap.js";
export {
  CONN_MANAGER_TYPES,
  DATA_TYPES,
  FRAGMENTER_TYPES,
  GROUP_PROTOCOL_TYPES,
  LINK_CONFIG_TYPES,
  LINK_PROTOCOL_TYPES,
  MSG_CRYPTO_TYPES,
  NAME_DISTRIBUTOR_TYPES,
  TUNNEL_TYPES,
  TYPE_NAMES,
  typeValue,
  USER,
  USER_VALUES,
  userName,
} from "./names.js";
export * from "./seq.js";
export type * from "./types.js";
export { USERS } from "./types.js";
