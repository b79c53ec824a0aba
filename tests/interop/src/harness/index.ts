/**
 * The interop harness: a real Linux kernel TIPC node in QEMU (TCG, user-mode network), driven
 * over its serial console, plus TAP namespaces, tipcd processes, UDP, pcap and tshark helpers. See ../../README.md.
 */
export { buildGuest, GUEST_DIR, type GuestImage } from "./guest-build.js";
export { type HostNode, type HostNodeOptions, startHostNode } from "./host-node.js";
export {
  findLinkTo,
  type LinkEntry,
  type NameTableEntry,
  type NodeEntry,
  parseLinkList,
  parseNameTable,
  parseNodeList,
  type Scope,
} from "./parse.js";
export { captureLoopback, PcapWriter, type TsharkFrame, type TsharkReport, tsharkDecode } from "./pcap.js";
export {
  bootGuest,
  type CommandResult,
  GUEST_IP,
  GuestCommandError,
  type GuestOptions,
  HOST_IP_FROM_GUEST,
  KernelGuest,
  netnsCommand,
  qemuArgs,
  type ServiceRange,
  withGuest,
} from "./qemu.js";
export {
  type Direction,
  type DirectionStats,
  type Shaping,
  shapeTap,
  shapingStats,
  unshapeTap,
} from "./shaping.js";
export { guestMediaAddress, type SlirpOptions, slirpTransport } from "./slirp.js";
export {
  type BindingKey,
  bindAll,
  bindingKey,
  describeDiff,
  diffTable,
  kernelTable,
  kernelTableCommand,
  parseKernelTableRuns,
  range,
  settle,
  type TableDiff,
  Truth,
  tipcdTable,
  unbindAll,
} from "./tables.js";
export {
  connectTipcd,
  createTapNetns,
  startTipcd,
  type TapNetns,
  type Tipcd,
  type TipcdOptions,
} from "./tipcd.js";
export { type Datagram, freeUdpPort, UdpPeer } from "./udp.js";
export { within } from "./within.js";
