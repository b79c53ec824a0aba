/**
 * Per-connection state of a SEQPACKET or STREAM socket and the pure rules of socket.c's
 * connection code: flow-control counting (tsk_inc, tsk_adv_blocks), Nagle's append
 * (tipc_msg_append) and the connect retry delay. The socket layer owns the sockets and drives
 * these. Facts: ../../../../shared/docs/tipc-data-path.md §4.
 */
import { type DataMessage, TIPC_BLOCK_FLOWCTL, TIPC_NAGLE } from "@tipcjs/codec";

/** CONN_TIMEOUT_DEFAULT (socket.c): connect() gives up after 8 s. */
export const CONN_TIMEOUT_DEFAULT = 8000;
/** CONN_PROBING_INTV (socket.c): an established connection probes its peer once an hour. */
export const CONN_PROBING_INTV = 3_600_000;
/** FLOWCTL_BLK_SZ (socket.h): flow control counts 1 KB blocks. */
export const FLOWCTL_BLK_SZ = 1024;
/** FLOWCTL_MSG_WIN (socket.h): the legacy window, in messages, for peers without TIPC_BLOCK_FLOWCTL. */
export const FLOWCTL_MSG_WIN = 512;
/** RCVBUF_MIN (socket.h): the starting windows are tsk_adv_blocks(RCVBUF_MIN) = 128 blocks. */
export const RCVBUF_MIN = 512 * 1024;
/** TIPC_ACK_RATE (socket.c): the reader acknowledges each quarter of its window. */
export const TIPC_ACK_RATE = 4;
/** NAGLE_START_INIT / NAGLE_START_MAX (socket.c): one-way sends before Nagle starts bundling. */
export const NAGLE_START_INIT = 4;
export const NAGLE_START_MAX = 1024;
/** Nagle stops holding once this many blocks wait (__tipc_sendstream). */
export const NAGLE_MAX_BACKLOG_BLOCKS = 64;
/** SHORT_H_SIZE: an established connection's 24-byte header. */
export const SHORT_H_SIZE = 24;
/** tsk_set_nagle: the Nagle buffer size towards this node (MAX_MSG_SIZE path) or a link's MTU. */
export const NAGLE_LOCAL_MAX = 1500;
/**
 * FLOWCTL_MSG_LIM (socket.h) stands for a legacy peer's receive limit: the message window twice
 * over, plus one, of full-size messages. Counted here in header + data bytes.
 */
export const FLOWCTL_MSG_LIM = (FLOWCTL_MSG_WIN * 2 + 1) * 66_000;

export type ConnState = "open" | "listen" | "connecting" | "established" | "disconnecting";

/** Why a connection ended, as the reader and writer see it. */
export type ConnectionEndReason =
  /** the peer shut down (TIPC_CONN_SHUTDOWN): end of stream, not an error */
  | "SHUTDOWN"
  /** the peer closed its socket or has no such port (TIPC_ERR_NO_PORT and others): ECONNRESET */
  | "RESET"
  /** the peer's node was lost (TIPC_ERR_NO_NODE from node_lost_contact) */
  | "NO_NODE"
  /** the SYN came back rejected: ECONNREFUSED */
  | "REFUSED"
  /** no answer to the SYN within the connect timeout: ETIMEDOUT */
  | "TIMEOUT"
  /** a probe went unanswered for a whole probing interval: ECONNABORTED */
  | "ABORTED"
  /** this side shut the connection down or closed it */
  | "LOCAL";

export interface ConnectionEnd {
  reason: ConnectionEndReason;
  /** the TIPC error code that ended it (0 for TIMEOUT, ABORTED and LOCAL) */
  errorCode: number;
}

export interface Conn {
  state: ConnState;
  peerNode: number;
  peerPort: number;
  peerCaps: number;
  /** the SYN kept for a retry after an OVERLOAD rejection (sk_write_queue while connecting) */
  synClone: DataMessage | undefined;
  /** connect() gives up at this time (virtual ms) */
  connectDeadline: number | undefined;
  connTimeout: number;
  /** sk_timer: the SYN retry while connecting, the next probe when established */
  timer: number | undefined;
  probeUnacked: boolean;
  sntUnacked: number;
  sndWin: number;
  rcvUnacked: number;
  rcvWin: number;
  /** Nagle (tsk->maxnagle etc.); maxnagle 0 = off */
  nodelay: boolean;
  maxnagle: number;
  oneway: number;
  nagleStart: number;
  sndBacklog: number;
  msgAcc: number;
  pktCnt: number;
  expectAck: boolean;
  /** messages built but not yet sent (Nagle's sk_write_queue) */
  txq: DataMessage[];
  /** the service the connection was made to or accepted on (conn_addrtype) */
  service: { type: number; instance: number } | undefined;
  end: ConnectionEnd | undefined;
  /** a writer found the window closed: wake it when an ack opens it */
  windowWaiter: boolean;
}

export function newConn(connTimeout: number, nodelay: boolean): Conn {
  const win = advBlocks(RCVBUF_MIN);
  return {
    state: "open",
    peerNode: 0,
    peerPort: 0,
    peerCaps: 0,
    synClone: undefined,
    connectDeadline: undefined,
    connTimeout,
    timer: undefined,
    probeUnacked: false,
    sntUnacked: 0,
    sndWin: win,
    rcvUnacked: 0,
    rcvWin: win,
    nodelay,
    maxnagle: 0,
    oneway: 0,
    nagleStart: NAGLE_START_INIT,
    sndBacklog: 0,
    msgAcc: 0,
    pktCnt: 0,
    expectAck: false,
    txq: [],
    service: undefined,
    end: undefined,
    windowWaiter: false,
  };
}

/** tsk_adv_blocks: a buffer size as advertisable blocks (a quarter, for truesize overhead). */
export function advBlocks(bytes: number): number {
  return Math.min(0xffff, Math.floor(bytes / FLOWCTL_BLK_SZ / 4));
}

/** tsk_blocks / msg_blocks: the blocks a message of `len` bytes (header included) counts. */
export function blocks(len: number): number {
  return Math.floor(len / FLOWCTL_BLK_SZ) + 1;
}

/** tsk_inc: blocks with TIPC_BLOCK_FLOWCTL, one per message without it. */
export function connInc(c: Conn, len: number): number {
  return c.peerCaps & TIPC_BLOCK_FLOWCTL ? blocks(len) : 1;
}

/** tsk_conn_cong: the writer waits while more than the window is unacknowledged. */
export function connCongested(c: Conn): boolean {
  return c.sntUnacked > c.sndWin;
}

/** tsk_set_nagle: STREAM only, not TIPC_NODELAY, and only towards a peer with TIPC_NAGLE. */
export function nagleMax(stream: boolean, c: Conn, mtu: number | undefined): number {
  if (!stream || c.nodelay || !(c.peerCaps & TIPC_NAGLE)) return 0;
  return mtu === undefined ? NAGLE_LOCAL_MAX : mtu;
}

/**
 * tipc_msg_append: `data` appended to the last buffer of `txq` while it is under `mss` bytes,
 * then into new buffers (cloned from `header`); returns the blocks added.
 */
export function nagleAppend(txq: DataMessage[], header: DataMessage, data: Uint8Array, mss: number): number {
  let tail = txq[txq.length - 1];
  let added = 0;
  let off = 0;
  do {
    if (tail === undefined || SHORT_H_SIZE + tail.payload.length >= mss) {
      tail = { ...header, payload: new Uint8Array(0) };
      txq.push(tail);
      added += 1;
    }
    const before = blocks(SHORT_H_SIZE + tail.payload.length);
    const cpy = Math.min(data.length - off, mss - SHORT_H_SIZE - tail.payload.length);
    const grown = new Uint8Array(tail.payload.length + cpy);
    grown.set(tail.payload);
    grown.set(data.subarray(off, off + cpy), tail.payload.length);
    tail.payload = grown;
    off += cpy;
    added += blocks(SHORT_H_SIZE + tail.payload.length) - before;
  } while (off < data.length);
  return added;
}

/**
 * The delay before a SYN rejected with OVERLOAD is sent again: a random 16-bit value modulo a
 * quarter of the connect timeout, plus 100 ms. The kernel divides by conn_timeout / 4 and so
 * divides by zero under 4 ms (CVE-2026-43411); here the modulus is at least 1.
 */
export function connectRetryDelay(connTimeout: number, random16: number): number {
  return (random16 % Math.max(1, Math.floor(connTimeout / 4))) + 100;
}
