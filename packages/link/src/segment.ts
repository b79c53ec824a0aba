/**
 * Segmentation and its glue (the kernel's tipc_msg_build, tipc_msg_try_bundle and the receive
 * side of tipc_link_input): messages headed for sending, fragmented past the MTU, bundled in the
 * backlog; received packets unbundled, reassembled and delivered. The wire work is the codec's.
 */
import {
  type BundlerMessage,
  canBundle,
  fragmentMessage,
  INT_H_SIZE,
  MAX_MSG_SIZE,
  mod16,
  peekImportance,
  peekUserValue,
  type Reassembler,
  TIPC_CRITICAL_IMPORTANCE,
  TipcDecodeError,
  type TipcMessage,
  USER,
  writeLinkFields,
} from "@tipcjs/codec";
import type { Core } from "./core.js";
import { LinkEngineError } from "./errors.js";
import { tunnelRcv } from "./failover.js";
import type { Peer } from "./node.js";
import type { LinkDropCause } from "./types.js";

const SYSTEM_IMPORTANCE = 4;

/** Messages waiting for room in a send window: one packet each, a bundle when several. */
export interface BacklogEntry {
  msgs: Uint8Array[];
  /** sum of align4(size) of the messages */
  size: number;
  bundleable: boolean;
  /** importance bits (1 << msg_importance, 0..3) of the first `importanceSeen` messages */
  importances: number;
  importanceSeen: number;
}

/**
 * The importances (bit i for importance i, 0..3) among an entry's messages, as msg_importance
 * reads them (SYSTEM and returned messages set none). Computed when first asked and kept as a
 * bundle grows, so a backlog nobody asks about costs nothing.
 */
export function entryImportances(e: BacklogEntry): number {
  for (; e.importanceSeen < e.msgs.length; e.importanceSeen++) {
    const imp = peekImportance(e.msgs[e.importanceSeen] as Uint8Array);
    if (imp <= TIPC_CRITICAL_IMPORTANCE) e.importances |= 1 << imp;
  }
  return e.importances;
}

function align4(n: number): number {
  return (n + 3) & ~3;
}

/** The drop cause for a fragment the Reassembler refused. */
export function reassemblyDrop(e: unknown): LinkDropCause {
  if (!(e instanceof TipcDecodeError)) throw e;
  if (e.code === "REASSEMBLY_TOO_LARGE") return "reassembly-oversize";
  if (e.code === "FRAGMENT_OUT_OF_ORDER" || e.code === "FRAGMENT_WITHOUT_FIRST")
    return "fragment-out-of-order";
  if (e.code === "UNEXPECTED_FIRST_FRAGMENT") return "fragment-out-of-order";
  return "malformed";
}

export function encodeForSend(c: Core, message: TipcMessage, dest: number, broadcast: boolean): Uint8Array {
  let bytes: Uint8Array;
  try {
    bytes = c.codec.encode(message);
  } catch (e) {
    throw new LinkEngineError("BAD_MESSAGE", `cannot encode: ${(e as Error).message}`);
  }
  if (bytes.length > MAX_MSG_SIZE) throw new LinkEngineError("TOO_LARGE", `message of ${bytes.length} bytes`);
  const u = peekUserValue(bytes);
  if (u === USER.LINK_CONFIG || u === USER.LINK_PROTOCOL) {
    throw new LinkEngineError("BAD_MESSAGE", "discovery and link protocol messages are the engine's own");
  }
  const copy = bytes.slice();
  writeLinkFields(copy, {
    nonSeq: broadcast,
    seqno: 0,
    ack: 0,
    bcastAck: 0,
    prevNode: c.address,
    origNode: c.address,
    destNode: dest,
    ...(broadcast ? { netId: c.netId } : {}),
  });
  return copy;
}

/**
 * Splits a message larger than the MTU into MSG_FRAGMENTER packets (§1.4), as the codec's
 * fragmentMessage cuts them, headed as ours to `dest` (or for the broadcast link).
 */
export function fragment(
  c: Core,
  bytes: Uint8Array,
  mtu: number,
  dest: number,
  broadcast: boolean,
): Uint8Array[] {
  if (bytes.length <= mtu) return [bytes];
  const frags = fragmentMessage(bytes, mtu, {
    nonSeq: broadcast,
    prevNode: c.address,
    origNode: c.address,
    destNode: dest,
    ...(broadcast ? { netId: c.netId } : {}),
  });
  const out: Uint8Array[] = [];
  for (const f of frags) {
    out.push(c.codec.encode(f));
    c.st.fragmentsSent++;
  }
  return out;
}

export function bundle(c: Core, msgs: Uint8Array[], dest: number, broadcast: boolean): Uint8Array {
  const b: BundlerMessage = {
    user: "MSG_BUNDLER",
    type: "BUNDLE",
    ...c.msgHeader(dest, broadcast),
    importance: SYSTEM_IMPORTANCE,
    messages: msgs,
  };
  c.st.bundlesSent++;
  c.st.bundledMessages += msgs.length;
  return c.codec.encode(b);
}

/** Queue for the backlog, bundling small messages into the tail when they fit (tipc_msg_try_bundle). */
export function toBacklog(backlog: BacklogEntry[], pkt: Uint8Array, mtu: number): void {
  const u = peekUserValue(pkt);
  // never a fragment, a tunnel packet (the kernel does not open a tunnel found in a bundle) or
  // a BCAST_PROTOCOL message (the codec's canBundle), nor a bundle
  const bundleable = u !== USER.MSG_BUNDLER && canBundle(pkt);
  const size = align4(pkt.length);
  const tail = backlog[backlog.length - 1];
  if (bundleable && tail?.bundleable && INT_H_SIZE + tail.size + size <= mtu) {
    tail.msgs.push(pkt);
    tail.size += size;
    return;
  }
  backlog.push({ msgs: [pkt], size, bundleable, importances: 0, importanceSeen: 0 });
}

/**
 * Unbundle, reassemble (in `holder`: the link, the broadcast receiver or a failover context),
 * consume the broadcast init and tunnels, deliver the rest.
 */
export function deliverPacket(
  c: Core,
  p: Peer,
  b: Uint8Array,
  via: "unicast" | "broadcast",
  holder: { reasm: Reassembler },
  now: number,
): void {
  const u = peekUserValue(b);
  if (u === USER.MSG_FRAGMENTER) {
    const m = c.tryDecode(b);
    if (m?.user !== "MSG_FRAGMENTER") return;
    let whole: Uint8Array | undefined;
    try {
      // a copy: the fragment's bytes are a view into a datagram we do not keep
      whole = holder.reasm.push({ type: m.type, fragmentNumber: m.fragmentNumber, data: m.data.slice() });
    } catch (e) {
      c.drop(reassemblyDrop(e));
      return;
    }
    if (whole) {
      c.st.reassembled++;
      deliverPacket(c, p, whole, via, holder, now);
    }
    return;
  }
  const m = c.tryDecode(b);
  if (!m) return;
  if (m.user === "MSG_BUNDLER") {
    for (const inner of m.messages) deliverPacket(c, p, inner, via, holder, now);
    return;
  }
  if (m.user === "BCAST_PROTOCOL") {
    // tipc_link_bc_init_rcv: seed the broadcast receive link from the unicast synch message
    if (via === "unicast" && !p.bc.synched) {
      p.bc.synched = true;
      p.bc.rcvNxt = mod16(m.lastBcast + 1);
      p.bc.peerSndNxt = p.bc.rcvNxt;
    }
    return;
  }
  if (m.user === "TUNNEL_PROTOCOL" && via === "unicast") {
    tunnelRcv(c, p, m, now);
    return;
  }
  if (m.user === "LINK_PROTOCOL" || m.user === "LINK_CONFIG" || m.user === "TUNNEL_PROTOCOL") {
    c.drop("unexpected-user");
    return;
  }
  c.st.delivered++;
  c.out.push({ kind: "deliver", peer: p.address, message: m, via });
}
