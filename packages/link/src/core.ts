/**
 * What every part of the link layer shares: the engine's options, its peers, its outputs and
 * counters, and the few helpers all of them use (drop, transmit, decode). The parts
 * (discover.ts, node.ts, link.ts, bcast.ts, failover.ts, segment.ts) are functions of this
 * state; engine.ts adds the public API, routing, `tick` and deadlines on top.
 */
import {
  decodeMessage,
  encodeMessage,
  nodeAddressFromId,
  nodeIdToString,
  padNodeId,
  TIPC_DEF_LINK_TOL,
  TIPC_DEF_LINK_WIN,
  TIPC_DEFAULT_NET_ID,
  TIPC_DISC_INIT,
  TIPC_MAX_LINK_TOL,
  TIPC_MAX_LINK_WIN,
  TIPC_MIN_LINK_TOL,
  TIPC_NAMED_BCAST,
  type TipcMessage,
} from "@tipcjs/codec";
import type { BcSnd } from "./bcast.js";
import { UNLINKED_BURST } from "./discover.js";
import { LinkEngineError } from "./errors.js";
import type { Peer } from "./node.js";
import {
  type BearerInfo,
  type LinkDropCause,
  type LinkEngineOptions,
  type LinkOutput,
  type LinkStats,
  MAX_BEARERS,
  type MediaAddress,
  type MessageCodec,
} from "./types.js";

const DEFAULT_CODEC: MessageCodec = { encode: encodeMessage, decode: decodeMessage };

function emptyStats(): LinkStats {
  return {
    transmitted: 0,
    unicastSent: 0,
    unicastRetransmitted: 0,
    broadcastSent: 0,
    broadcastRetransmitted: 0,
    statesSent: 0,
    probesSent: 0,
    nacksSent: 0,
    delivered: 0,
    duplicates: 0,
    deferred: 0,
    bundlesSent: 0,
    bundledMessages: 0,
    fragmentsSent: 0,
    reassembled: 0,
    linkUps: 0,
    linkDowns: 0,
    failovers: 0,
    tunnelSent: 0,
    tunnelReceived: 0,
    broadcastTransmitQueue: 0,
    broadcastBacklog: 0,
    resyncs: 0,
    drops: {},
  };
}

export class Core {
  readonly nodeId: Uint8Array;
  readonly capabilities: number;
  readonly signature: number;
  readonly netId: number;
  address: number;
  addressed = false;

  readonly codec: MessageCodec;
  readonly random: () => number;
  readonly bearers: BearerInfo[];
  readonly bearerOff: boolean[];
  readonly tolerance: number;
  readonly window: number;
  /** the broadcast link's send window (`tipc link set window N link broadcast-link` changes it) */
  bcWindow: number;
  readonly nodeIdText: string;
  out: LinkOutput[] = [];
  readonly st = emptyStats();
  readonly peers = new Map<number, Peer>();
  started = false;
  deadlineDirty = true;
  deadlineCache: number | undefined;
  stopped = false;
  /** inside stop(): links go down without failover */
  stopping = false;

  // discovery (discover.ts)
  trial: boolean;
  trialEnd = 0;
  discNextAt: number | undefined;
  discInterval = TIPC_DISC_INIT;
  linksUp = 0;
  /** set by inWindow when a duplicate differs from the first copy (see onConflict) */
  conflict = false;
  /** token bucket for sends to nodes that never came up (see UNLINKED_RATE) */
  unlinkedTokens = UNLINKED_BURST;
  unlinkedTokensAt = 0;

  /** the broadcast sender (bcast.ts); each peer's receiver is its `bc` */
  readonly bc: BcSnd = { sndNxt: 1, transmq: [], backlog: [] };

  constructor(o: LinkEngineOptions, defaultCapabilities: number) {
    this.nodeId = padNodeId(o.nodeId);
    this.nodeIdText = nodeIdToString(this.nodeId);
    this.netId = o.netId ?? TIPC_DEFAULT_NET_ID;
    let caps = o.capabilities ?? defaultCapabilities;
    if (o.legacy) caps &= ~TIPC_NAMED_BCAST;
    this.capabilities = caps & 0x1fff;
    this.random = o.random;
    this.signature = (o.signature ?? Math.floor(o.random() * 0x10000)) & 0xffff;
    const bearers = o.bearers ?? (o.bearer ? [o.bearer] : []);
    if (bearers.length === 0 || bearers.length > MAX_BEARERS || (o.bearers && o.bearer))
      throw new LinkEngineError("BAD_OPTIONS", `give one bearer or 1..${MAX_BEARERS} bearers`);
    this.bearers = bearers.map((b) => ({ ...b }));
    this.bearerOff = bearers.map(() => false);
    const tol = o.tolerance ?? TIPC_DEF_LINK_TOL;
    this.tolerance = Math.min(TIPC_MAX_LINK_TOL, Math.max(TIPC_MIN_LINK_TOL, tol));
    this.window = Math.max(1, Math.min(TIPC_MAX_LINK_WIN, o.window ?? TIPC_DEF_LINK_WIN));
    this.bcWindow = Math.max(1, Math.min(TIPC_MAX_LINK_WIN, o.broadcastWindow ?? TIPC_DEF_LINK_WIN));
    this.codec = o.codec ?? DEFAULT_CODEC;
    if (o.address !== undefined) {
      this.address = o.address >>> 0;
      this.trial = false;
    } else {
      this.address = nodeAddressFromId(this.nodeId);
      this.trial = !o.skipTrial;
    }
  }

  drop(cause: LinkDropCause): void {
    this.st.drops[cause] = (this.st.drops[cause] ?? 0) + 1;
  }

  tryDecode(b: Uint8Array): TipcMessage | undefined {
    try {
      return this.codec.decode(b);
    } catch {
      this.drop("decode-error");
      return undefined;
    }
  }

  /** `peer`: the node whose unicast link carries the packet (none for discovery and the broadcast link). */
  transmit(bearer: number, to: MediaAddress | "broadcast", bytes: Uint8Array, peer?: number): void {
    if (this.bearerOff[bearer]) return; // a disabled bearer sends nothing
    this.st.transmitted++;
    this.out.push(
      peer === undefined
        ? { kind: "transmit", bearer, to, bytes }
        : { kind: "transmit", bearer, to, bytes, peer },
    );
  }

  randomU32(): number {
    return Math.floor(this.random() * 0x100000000) >>> 0;
  }

  finalizeAddress(): void {
    this.addressed = true;
    this.out.push({ kind: "addressAssigned", address: this.address });
  }

  /**
   * Header fields of a message of ours to `dest` (0 and `broadcast` for the broadcast link,
   * which carries the net id); the link stamps seqno and acks when it sends.
   */
  msgHeader(dest: number, broadcast = false) {
    return {
      nonSeq: broadcast,
      bcastAck: 0,
      ack: 0,
      seqno: 0,
      prevNode: this.address,
      origNode: this.address,
      destNode: dest,
      ...(broadcast ? { netId: this.netId } : {}),
    };
  }

  lowerDeadline(t: number): void {
    if (this.deadlineCache === undefined || t < this.deadlineCache) this.deadlineCache = t;
  }
}
