/**
 * Typed TIPC v2 messages, as Linux 5.10..6.x puts them on the wire.
 * Field names are the kernel's (net/tipc/msg.h) in camelCase; layouts are in
 * ../../../../shared/docs/tipc-protocol.md §1 (word/bit positions are not repeated here).
 *
 * Every message type carries the word-0 fields it may vary (`nonSeq`, flags) so that
 * `encodeMessage(decodeMessage(bytes))` reproduces the kernel's bytes exactly.
 */

/** TIPC user names (word 0 bits 25..28), keyed by their wire value. */
export const USERS = {
  0: "LOW_IMPORTANCE",
  1: "MEDIUM_IMPORTANCE",
  2: "HIGH_IMPORTANCE",
  3: "CRITICAL_IMPORTANCE",
  5: "BCAST_PROTOCOL",
  6: "MSG_BUNDLER",
  7: "LINK_PROTOCOL",
  8: "CONN_MANAGER",
  9: "GROUP_PROTOCOL",
  10: "TUNNEL_PROTOCOL",
  11: "NAME_DISTRIBUTOR",
  12: "MSG_FRAGMENTER",
  13: "LINK_CONFIG",
  14: "MSG_CRYPTO",
} as const;
export type UserValue = keyof typeof USERS;
export type UserName = (typeof USERS)[UserValue];
export type DataUserName = "LOW_IMPORTANCE" | "MEDIUM_IMPORTANCE" | "HIGH_IMPORTANCE" | "CRITICAL_IMPORTANCE";

export type DataMessageType =
  | "CONN_MSG"
  | "MCAST_MSG"
  | "NAMED_MSG"
  | "DIRECT_MSG"
  | "GRP_MEMBER_EVT"
  | "GRP_BCAST_MSG"
  | "GRP_MCAST_MSG"
  | "GRP_UCAST_MSG";
export type LinkProtocolType = "STATE" | "RESET" | "ACTIVATE";
export type NameDistributorType = "PUBLICATION" | "WITHDRAWAL";
export type LinkConfigType = "DSC_REQ" | "DSC_RESP" | "DSC_TRIAL" | "DSC_TRIAL_FAIL";
export type FragmenterType = "FIRST_FRAGMENT" | "FRAGMENT" | "LAST_FRAGMENT";
export type TunnelType = "SYNCH" | "FAILOVER";
export type ConnManagerType = "CONN_PROBE" | "CONN_PROBE_REPLY" | "CONN_ACK";

/**
 * Fields every sequenced internal message (40-byte header) shares: words 1..3, 6, 7.
 * On packets sent over the broadcast link (`nonSeq: true`), `seqno` is the broadcast
 * sequence number and word 5 carries the network id (see `netId`).
 */
export interface LinkHeader {
  /** word 0 bit 20: not sent on a unicast link (discovery, broadcast-link packets). */
  nonSeq: boolean;
  /** word 1 bits 0..15: last broadcast packet received from the peer. */
  bcastAck: number;
  /** word 2 bits 16..31: last in-order unicast packet received (rcv_nxt - 1). */
  ack: number;
  /** word 2 bits 0..15: link (or broadcast-link) sequence number. */
  seqno: number;
  /** word 3: address of the node that sent this packet on this hop. */
  prevNode: number;
  /** word 6: originating node. */
  origNode: number;
  /** word 7: destination node (0 for broadcast). */
  destNode: number;
}

/** One 20-byte distribution item (struct distr_item), all big-endian u32. */
export interface NameItem {
  type: number;
  lower: number;
  upper: number;
  port: number;
  key: number;
}

export interface NameDistributorMessage extends LinkHeader {
  user: "NAME_DISTRIBUTOR";
  type: NameDistributorType;
  /** word 1 bit 28 */
  bulk: boolean;
  /** word 1 bit 27 */
  lastBulk: boolean;
  /** word 1 bit 26: 0 means a pre-2020 (legacy) sender. */
  nonLegacy: boolean;
  /** word 4 bits 0..15 */
  namedSeqno: number;
  /** word 5 bit 14 (absent on broadcast-link packets, where word 5 is `netId`). */
  bcAckInvalid: boolean;
  /** word 5 as a whole on broadcast-link packets (nonSeq); undefined otherwise. */
  netId?: number;
  items: NameItem[];
}

export interface GapAckBlock {
  /** everything up to `ack` received ... */
  ack: number;
  /** ... then `gap` packets missing */
  gap: number;
}

/** STATE data: the gap-ACK block record (TIPC_GAP_ACK_BLOCK), §7.6. */
export interface GapAckRecord {
  broadcast: GapAckBlock[];
  unicast: GapAckBlock[];
}

/** STATE data: a monitor domain record, §7.7. */
export interface MonitorRecord {
  gen: number;
  ackGen: number;
  /** 64-bit up map */
  upMap: bigint;
  members: number[];
}

export interface LinkProtocolMessage {
  user: "LINK_PROTOCOL";
  type: LinkProtocolType;
  nonSeq: boolean;
  /** word 0 bit 19: a probe or probe reply (STATE). */
  isKeepalive: boolean;
  /** word 1 bits 16..28 (STATE): packets missing after `ack`. Always 0 in ACTIVATE. */
  seqGap: number;
  /** word 1 bits 0..15 in STATE and RESET. Always 0 in ACTIVATE (those bits are destSession). */
  bcastAck: number;
  /** ACTIVATE: word 1 bit 16. Always false in STATE and RESET. */
  destSessionValid: boolean;
  /** ACTIVATE: word 1 bits 0..15, the peer's session as the sender knows it. 0 otherwise. */
  destSession: number;
  ack: number;
  seqno: number;
  prevNode: number;
  /** word 4 bits 16..31: the sender's broadcast snd_nxt - 1. */
  lastBcast: number;
  /** word 4 bits 0..15: the sender's unicast snd_nxt. */
  nextSent: number;
  /** word 5 bits 16..31 */
  session: number;
  bcAckInvalid: boolean;
  peerStopping: boolean;
  redundantLink: boolean;
  bearerId: number;
  /** 0 = no change requested */
  priority: number;
  netPlane: number;
  probe: boolean;
  origNode: number;
  destNode: number;
  /** word 8 bits 0..9: broadcast NACK count after bcastAck. */
  bcGap: number;
  /** word 9 bits 16..31 times 4, in bytes. */
  maxPacket: number;
  /** word 9 bits 0..15 in ms; 0 = no change requested. */
  tolerance: number;
  /** RESET/ACTIVATE: the sender's interface (bearer) name, up to 15 characters. */
  bearerName?: string;
  /** STATE: gap-ACK record, when present. */
  gapAcks?: GapAckRecord;
  /** STATE: monitor domain record, when present. */
  monitor?: MonitorRecord;
  /**
   * The raw data area. The decoder sets it only when the fields above cannot reproduce the
   * data exactly (a STATE record it cannot parse, bytes after the bearer name's NUL, ...);
   * when present, the encoder writes it verbatim instead of bearerName / gapAcks / monitor.
   */
  data?: Uint8Array;
}

/** UDP media address (struct udp_media_addr), §6.2. */
export interface UdpMediaAddress {
  family: "ipv4" | "ipv6";
  /** dotted quad or RFC 5952 text */
  address: string;
  port: number;
}

export interface LinkConfigMessage {
  user: "LINK_CONFIG";
  type: LinkConfigType;
  /** word 1 bits 15..27 */
  capabilities: number;
  /** word 1 bits 0..15 (bit 15 overlaps capability bit 0, as in the kernel) */
  signature: number;
  destDomain: number;
  /** the sender's address (its trial address during the trial period) */
  prevNode: number;
  netId: number;
  mediaAddress: UdpMediaAddress;
  peerNetHash: number;
  suggestedAddress: number;
  /** 16 bytes */
  nodeId: Uint8Array;
}

export interface BcastProtocolMessage extends LinkHeader {
  user: "BCAST_PROTOCOL";
  type: "STATE";
  /** word 4 bits 16..31 */
  lastBcast: number;
  /** word 4 bits 0..15 */
  nextSent: number;
  bcAckInvalid: boolean;
  netId?: number;
}

export interface BundlerMessage extends LinkHeader {
  user: "MSG_BUNDLER";
  type: "BUNDLE";
  /** word 9 bits 0..2 */
  importance: number;
  netId?: number;
  /** the inner messages, each a complete encoded TIPC message */
  messages: Uint8Array[];
}

export interface FragmenterMessage extends LinkHeader {
  user: "MSG_FRAGMENTER";
  type: FragmenterType;
  /** word 4 bits 16..31, from 1 */
  fragmentNumber: number;
  /** word 4 bits 0..15 (tunnel fragmentation) */
  fragmentCount: number;
  importance: number;
  netId?: number;
  /** fragment payload; the first fragment starts with the original header */
  data: Uint8Array;
}

export interface TunnelMessage extends LinkHeader {
  user: "TUNNEL_PROTOCOL";
  type: TunnelType;
  bearerId: number;
  /** word 9 bits 16..31: msgcnt, or the synch point */
  msgCount: number;
  /**
   * word 4 bits 16..31 and 0..15: a FAILOVER packet too large for the tunnel link is sent in
   * fragments (`tipc_msg_fragment`, numbered from 1, each with the count); 0 and 0 otherwise
   */
  fragmentNumber: number;
  fragmentCount: number;
  /** the inner (tunnelled) message bytes, or this fragment's share of them */
  data: Uint8Array;
}

/** Payload (data) messages: header words 0..10 as present, decoded and re-encoded; payload opaque. */
export interface DataMessage {
  user: DataUserName;
  type: DataMessageType;
  /** 24, 32, 40 or 44 */
  headerSize: number;
  nonSeq: boolean;
  destDroppable: boolean;
  srcDroppable: boolean;
  syn: boolean;
  errorCode: number;
  rerouteCount: number;
  lookupScope: number;
  bcastAck: number;
  ack: number;
  seqno: number;
  prevNode: number;
  origPort: number;
  destPort: number;
  /** words 6.. when the header is at least 32 bytes; otherwise equal to prevNode */
  origNode: number;
  destNode: number;
  /** named / multicast (40+ bytes) */
  nameType: number;
  nameInstance: number;
  /** multicast (44 bytes): upper */
  nameUpper: number;
  payload: Uint8Array;
}

/**
 * Messages the codec reads but does not interpret beyond word 0..1 and the header size
 * (CONN_MANAGER, GROUP_PROTOCOL, MSG_CRYPTO): kept as raw header words + data so they re-encode.
 */
export interface OpaqueMessage {
  user: "CONN_MANAGER" | "GROUP_PROTOCOL" | "MSG_CRYPTO";
  type: string;
  nonSeq: boolean;
  /** all header words, word 0 included */
  headerWords: number[];
  data: Uint8Array;
}

export type TipcMessage =
  | NameDistributorMessage
  | LinkProtocolMessage
  | LinkConfigMessage
  | BcastProtocolMessage
  | BundlerMessage
  | FragmenterMessage
  | TunnelMessage
  | DataMessage
  | OpaqueMessage;
