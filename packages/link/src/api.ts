import type { TipcMessage } from "@tipcjs/codec";
import type { LinkInfo, LinkOutput, LinkStats, NodeInfo } from "./types.js";

/** A point in the unicast stream to a peer (see `LinkEngine.unicastMark`); compare, don't build. */
export interface UnicastMark {
  readonly peer: number;
  /** the bearer of the link that carried the peer's traffic when the mark was taken */
  readonly bearer: number;
  /** that link's session: a reset link starts a new one */
  readonly session: number;
  /** the link seqno of the last packet queued to the peer */
  readonly seqno: number;
}

/** Backlog packets per importance LOW..CRITICAL (`LinkEngine.backlogState`), with their limits. */
export interface BacklogState {
  readonly counts: readonly [number, number, number, number];
  readonly limits: readonly [number, number, number, number];
}

/**
 * One TIPC node's link layer on one or more bearers: discovery, a unicast link per peer and the
 * broadcast link. Sans-I/O: feed it datagrams and time, drain its outputs with `poll()`.
 */
export interface LinkEngine {
  /** our 32-bit address; the trial address until `addressAssigned` is emitted */
  readonly address: number;
  /** true once the address trial is over */
  readonly addressed: boolean;
  readonly nodeId: Uint8Array;
  readonly capabilities: number;
  readonly signature: number;
  readonly netId: number;

  /** Start discovery (first DSC_TRIAL/DSC_REQ at once). */
  start(now: number): void;
  /**
   * A datagram from bearer `bearer` (default 0). Bad or unwanted input is a counted drop,
   * never a throw.
   */
  receive(bytes: Uint8Array, from: import("./types.js").MediaAddress, now: number, bearer?: number): void;
  /**
   * Take a bearer out of service (its transport failed, or an operator disabled it): every link
   * on it goes down, failing its traffic over to the peer's other links, and discovery stops on
   * it until `enableBearer`. Throws LinkEngineError BAD_OPTIONS for an unknown index.
   */
  disableBearer(bearer: number, now: number): void;
  enableBearer(bearer: number, now: number): void;
  /** Run timers due at `now` (discovery, link supervision, retransmission). */
  tick(now: number): void;
  /** When `tick` should next be called, or undefined when nothing is pending. */
  nextDeadline(): number | undefined;
  /**
   * Send a message reliably and in order to one peer on its unicast link (e.g. a
   * NAME_DISTRIBUTOR bulk or replicast update). The link fills seqno/ack/bcastAck/prevNode;
   * origNode/destNode default to us/the peer. Large messages are fragmented, small ones
   * may be bundled when the window is full. Throws LinkEngineError PEER_DOWN if the peer is not up.
   */
  sendUnicast(peer: number, message: TipcMessage, now: number): void;
  /** Send a message once on the broadcast link to every peer that is up. */
  sendBroadcast(message: TipcMessage, now: number): void;
  /**
   * Where the unicast stream to `peer` stands: the link seqno the last message queued so far
   * (by `sendUnicast`, or the engine itself) is or will be sent with, on the link that now
   * carries the peer's traffic. Undefined if the peer is not up. Take it right after sending
   * something, then ask `unicastAcked` whether the peer has acknowledged it.
   */
  unicastMark(peer: number): UnicastMark | undefined;
  /**
   * true once the peer has acknowledged (link-level ack) every packet up to the mark, false while
   * it has not; undefined when the mark's link no longer carries the peer's traffic (it failed
   * over to another link, or was reset, or the peer is down): take a new mark with
   * `unicastMark`, which covers whatever the old link's failover moved onto the new one.
   */
  unicastAcked(mark: UnicastMark): boolean | undefined;
  /**
   * Ask the peer to acknowledge now, rather than at its next supervision tick: one link STATE
   * probe on the active link, which the peer (kernel or engine) answers at once. False if the
   * peer is not up.
   */
  requestUnicastAck(peer: number): boolean;
  /**
   * The backlog of the link to `peer` (0: the broadcast link) per data importance LOW..CRITICAL:
   * packets waiting for the send window, and the kernel's limits (min_win x 2/4/6/8,
   * tipc_link_set_queue_limits). Undefined if the peer is not up.
   */
  backlogState(peer: number): BacklogState | undefined;
  /**
   * The link to `peer` (0: broadcast) holds at least its limit of backlog packets of
   * `importance` (0..3): a sender at that importance should wait (the kernel's -ELINKCONG), until
   * this turns false again (the kernel's wakeup). False if the peer is not up.
   */
  backlogCongested(peer: number, importance: number): boolean;
  /** Graceful shutdown: RESET with peer_stopping to every peer, links and nodes down. */
  stop(now: number): void;
  /** Drain queued outputs (transmissions, deliveries, events), oldest first. */
  poll(): LinkOutput[];

  /**
   * `tipc link set tolerance|window ... link NAME` at run time. A unicast link's new tolerance
   * goes to the peer in a STATE message at once (the kernel takes it, tipc_link_set_tolerance);
   * its window bounds the packets in flight from now on. The broadcast link ("broadcast-link")
   * takes a window only. Throws LinkEngineError NO_SUCH_LINK, BAD_OPTIONS (tolerance outside
   * 50..30,000 ms, window outside 16..8191 packets, a tolerance for the broadcast link).
   */
  setLinkProperties(name: string, properties: LinkPropertiesUpdate, now: number): void;

  nodes(): NodeInfo[];
  links(): LinkInfo[];
  stats(): LinkStats;
  /** peers that are up, with their capabilities */
  upPeers(): { peer: number; capabilities: number; mtu: number }[];
}

/** What `setLinkProperties` changes; absent fields stay as they are. */
export interface LinkPropertiesUpdate {
  /** ms, 50..30,000 */
  tolerance?: number;
  /** packets, 16..8191 */
  window?: number;
}
