/** Protocol constants (shared/docs/tipc-protocol.md §1, §10, Appendix B). */

export const TIPC_VERSION = 2;

export const SHORT_H_SIZE = 24;
export const BASIC_H_SIZE = 32;
export const NAMED_H_SIZE = 40;
export const MCAST_H_SIZE = 44;
export const INT_H_SIZE = 40;
export const MIN_H_SIZE = 24;
export const MAX_H_SIZE = 60;
export const DSC_H_SIZE = 60;
export const NODE_ID_LEN = 16;
export const TIPC_MAX_IF_NAME = 16;
export const TIPC_MAX_USER_MSG_SIZE = 66000;
export const MAX_MSG_SIZE = TIPC_MAX_USER_MSG_SIZE + MAX_H_SIZE;
/** size of one distribution item (struct distr_item) */
export const ITEM_SIZE = 20;

/** Node capability bits (discovery word 1, bits 15..27). */
export const TIPC_SYN_BIT = 0x001;
export const TIPC_BCAST_SYNCH = 0x002;
export const TIPC_BCAST_STATE_NACK = 0x004;
export const TIPC_BLOCK_FLOWCTL = 0x008;
export const TIPC_BCAST_RCAST = 0x010;
export const TIPC_NODE_ID128 = 0x020;
export const TIPC_LINK_PROTO_SEQNO = 0x040;
export const TIPC_MCAST_RBCTL = 0x080;
export const TIPC_GAP_ACK_BLOCK = 0x100;
export const TIPC_TUNNEL_ENHANCED = 0x200;
export const TIPC_NAGLE = 0x400;
export const TIPC_NAMED_BCAST = 0x800;
/** What Linux 5.10..6.x advertises: all twelve bits. */
export const TIPC_NODE_CAPABILITIES = 0xfff;

/** Reserved service types (§3). */
export const TIPC_NODE_STATE = 0;
export const TIPC_TOP_SRV = 1;
export const TIPC_LINK_STATE = 2;
export const TIPC_RESERVED_TYPES = 64;

export const TIPC_DEFAULT_NET_ID = 4711;
export const TIPC_UDP_PORT = 6118;
/** TIPC_DEF_LINK_UDP_MTU for IPv4 bearers; IPv6 bearers use 1280. */
export const TIPC_DEF_LINK_UDP_MTU = 14000;
export const TIPC_UDP6_MTU = 1280;
export const TIPC_MEDIA_TYPE_UDP = 3;

export const TIPC_MIN_LINK_TOL = 50;
export const TIPC_DEF_LINK_TOL = 1500;
export const TIPC_MAX_LINK_TOL = 30000;
export const TIPC_DEF_LINK_PRI = 10;
export const TIPC_MAX_LINK_PRI = 31;
export const TIPC_MIN_LINK_WIN = 16;
export const TIPC_DEF_LINK_WIN = 50;
export const TIPC_MAX_LINK_WIN = 8191;
export const TIPC_MAX_PUBL = 65535;
export const TIPC_MAX_SUBSCR = 65535;
export const NODE_CLEANUP_AFTER = 300_000;

/** Discovery intervals (ms). */
export const TIPC_DISC_INIT = 125;
export const TIPC_DISC_FAST = 1000;
export const TIPC_DISC_SLOW = 60000;
export const TIPC_TRIAL_PERIOD = 1000;

/** Data importance: the user field of a data message (msg.h, uapi/linux/tipc.h). */
export const TIPC_LOW_IMPORTANCE = 0;
export const TIPC_MEDIUM_IMPORTANCE = 1;
export const TIPC_HIGH_IMPORTANCE = 2;
export const TIPC_CRITICAL_IMPORTANCE = 3;
/** The importance msg_importance gives everything that is not user data (msg.h). */
export const TIPC_SYSTEM_IMPORTANCE = 4;

/** Error codes of a returned data message, word 1 bits 25..28 (uapi/linux/tipc.h). */
export const TIPC_OK = 0;
export const TIPC_ERR_NO_NAME = 1;
export const TIPC_ERR_NO_PORT = 2;
export const TIPC_ERR_NO_NODE = 3;
export const TIPC_ERR_OVERLOAD = 4;
export const TIPC_CONN_SHUTDOWN = 5;

/** Lookup scopes, word 1 bits 19..20 of a named or multicast message (uapi/linux/tipc.h). */
export const TIPC_ZONE_SCOPE = 1;
export const TIPC_CLUSTER_SCOPE = 2;
export const TIPC_NODE_SCOPE = 3;

/** Most data a rejected message carries back to its sender (msg.h MAX_FORWARD_SIZE). */
export const MAX_FORWARD_SIZE = 1024;
