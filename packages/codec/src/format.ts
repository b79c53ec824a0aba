// biome-ignore-all lint/style/noNonNullAssertion: every index is bounds-checked before it is read
/** Human-readable and JSON-safe renderings of decoded messages (used by the tipc-decode CLI). */
import { capabilityNames, nodeAddressFromId, nodeIdToString } from "./address.js";
import type { NameItem, TipcMessage } from "./types.js";

const hex = (n: number) => (n >>> 0).toString(16);

function bytesToHex(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i++) s += b[i]!.toString(16).padStart(2, "0");
  return s;
}

/** A JSON-safe copy of a message: byte arrays become hex strings, bigints decimal strings. */
export function messageToJSON(msg: TipcMessage): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(msg)) {
    if (v === undefined) continue;
    if (v instanceof Uint8Array) out[k] = bytesToHex(v);
    else if (Array.isArray(v) && v[0] instanceof Uint8Array) out[k] = (v as Uint8Array[]).map(bytesToHex);
    else if (typeof v === "object" && v !== null && !Array.isArray(v)) {
      out[k] = JSON.parse(JSON.stringify(v, (_key, x) => (typeof x === "bigint" ? x.toString() : x)));
    } else out[k] = v;
  }
  if (msg.user === "LINK_CONFIG") out.nodeIdString = nodeIdToString(msg.nodeId);
  return out;
}

function items(list: NameItem[], max: number): string {
  const shown = list
    .slice(0, max)
    .map((i) => `{${i.type},${i.lower},${i.upper} port=${i.port} key=${i.key}}`);
  if (list.length > max) shown.push(`...(+${list.length - max})`);
  return shown.join(" ");
}

function flags(pairs: [string, boolean][]): string[] {
  return pairs.filter(([, on]) => on).map(([name]) => name);
}

export interface FormatOptions {
  /** NAME_DISTRIBUTOR items shown before "...(+n)"; default 8 */
  maxItems?: number;
}

/** One line describing a message: user, type and the fields that matter, node addresses in hex. */
export function formatMessage(msg: TipcMessage, options: FormatOptions = {}): string {
  const maxItems = options.maxItems ?? 8;
  const parts: string[] = [msg.user, msg.type];
  const link = (m: { seqno: number; ack: number; bcastAck: number; prevNode: number }) =>
    parts.push(`seqno=${m.seqno}`, `ack=${m.ack}`, `bcastAck=${m.bcastAck}`, `prev=${hex(m.prevNode)}`);
  const nodes = (m: { origNode: number; destNode: number }) =>
    parts.push(`orig=${hex(m.origNode)}`, `dest=${hex(m.destNode)}`);
  if ("nonSeq" in msg && msg.nonSeq) parts.push("nonSeq");
  if ("netId" in msg && msg.netId !== undefined && msg.user !== "LINK_CONFIG")
    parts.push(`netId=${msg.netId}`);
  switch (msg.user) {
    case "NAME_DISTRIBUTOR":
      parts.push(
        ...flags([
          ["bulk", msg.bulk],
          ["lastBulk", msg.lastBulk],
          ["nonLegacy", msg.nonLegacy],
          ["bcAckInvalid", msg.bcAckInvalid],
        ]),
      );
      parts.push(`namedSeqno=${msg.namedSeqno}`);
      link(msg);
      nodes(msg);
      parts.push(`items=${msg.items.length}`);
      if (msg.items.length) parts.push(items(msg.items, maxItems));
      break;
    case "LINK_CONFIG":
      parts.push(
        `node=${nodeIdToString(msg.nodeId)}`,
        `addr=${hex(msg.prevNode)}`,
        `hash=${hex(nodeAddressFromId(msg.nodeId))}`,
        `caps=0x${hex(msg.capabilities)}(${msg.capabilities === 0xfff ? "all" : capabilityNames(msg.capabilities).join("|") || "none"})`,
        `sig=0x${hex(msg.signature)}`,
        `netId=${msg.netId}`,
        `media=${msg.mediaAddress.family === "ipv6" ? `[${msg.mediaAddress.address}]` : msg.mediaAddress.address}:${msg.mediaAddress.port}`,
        `destDomain=${hex(msg.destDomain)}`,
        `peerNetHash=${hex(msg.peerNetHash)}`,
        `suggested=${hex(msg.suggestedAddress)}`,
      );
      break;
    case "LINK_PROTOCOL":
      parts.push(`session=${msg.session}`);
      if (msg.type === "ACTIVATE")
        parts.push(`destSession=${msg.destSession}${msg.destSessionValid ? "" : "(invalid)"}`);
      else parts.push(`bcastAck=${msg.bcastAck}`);
      parts.push(
        `ack=${msg.ack}`,
        `seqno=${msg.seqno}`,
        `nextSent=${msg.nextSent}`,
        `lastBcast=${msg.lastBcast}`,
      );
      if (msg.seqGap) parts.push(`seqGap=${msg.seqGap}`);
      if (msg.bcGap) parts.push(`bcGap=${msg.bcGap}`);
      parts.push(
        ...flags([
          ["isKeepalive", msg.isKeepalive],
          ["probe", msg.probe],
          ["bcAckInvalid", msg.bcAckInvalid],
          ["peerStopping", msg.peerStopping],
          ["redundantLink", msg.redundantLink],
        ]),
      );
      parts.push(`prev=${hex(msg.prevNode)}`);
      nodes(msg);
      parts.push(
        `bearerId=${msg.bearerId}`,
        `priority=${msg.priority}`,
        `netPlane=${String.fromCharCode(65 + msg.netPlane)}`,
      );
      parts.push(`maxPacket=${msg.maxPacket}`, `tolerance=${msg.tolerance}`);
      if (msg.bearerName !== undefined) parts.push(`bearer=${JSON.stringify(msg.bearerName)}`);
      if (msg.gapAcks) {
        const b = (l: { ack: number; gap: number }[]) => l.map((x) => `${x.ack}+${x.gap}`).join(",");
        parts.push(`gapAcks=bc[${b(msg.gapAcks.broadcast)}]uc[${b(msg.gapAcks.unicast)}]`);
      }
      if (msg.monitor) {
        parts.push(
          `monitor=gen:${msg.monitor.gen},ackGen:${msg.monitor.ackGen},up:0x${msg.monitor.upMap.toString(16)},members:${msg.monitor.members.map(hex).join(",")}`,
        );
      }
      if (msg.data) parts.push(`data=${bytesToHex(msg.data)}`);
      break;
    case "BCAST_PROTOCOL":
      link(msg);
      parts.push(
        `lastBcast=${msg.lastBcast}`,
        `nextSent=${msg.nextSent}`,
        ...flags([["bcAckInvalid", msg.bcAckInvalid]]),
      );
      nodes(msg);
      break;
    case "MSG_BUNDLER":
      link(msg);
      nodes(msg);
      parts.push(`importance=${msg.importance}`, `messages=${msg.messages.length}`);
      break;
    case "MSG_FRAGMENTER":
      parts.push(`fragment=${msg.fragmentNumber}${msg.fragmentCount ? `/${msg.fragmentCount}` : ""}`);
      link(msg);
      nodes(msg);
      parts.push(`importance=${msg.importance}`, `data=${msg.data.length}B`);
      break;
    case "TUNNEL_PROTOCOL":
      link(msg);
      nodes(msg);
      parts.push(`bearerId=${msg.bearerId}`, `msgCount=${msg.msgCount}`, `data=${msg.data.length}B`);
      if (msg.fragmentCount > 0) parts.push(`fragment=${msg.fragmentNumber}/${msg.fragmentCount}`);
      break;
    case "CONN_MANAGER":
    case "GROUP_PROTOCOL":
    case "MSG_CRYPTO":
      parts.push(
        `header=${msg.headerWords.map((w) => hex(w).padStart(8, "0")).join(" ")}`,
        `data=${msg.data.length}B`,
      );
      break;
    default:
      parts.push(`hdr=${msg.headerSize}`);
      parts.push(
        ...flags([
          ["syn", msg.syn],
          ["destDroppable", msg.destDroppable],
          ["srcDroppable", msg.srcDroppable],
        ]),
      );
      if (msg.errorCode) parts.push(`err=${msg.errorCode}`);
      link(msg);
      parts.push(`origPort=${msg.origPort}`, `destPort=${msg.destPort}`);
      if (msg.headerSize >= 32) nodes(msg);
      if (msg.headerSize >= 40)
        parts.push(
          `name={${msg.nameType},${msg.nameInstance}${msg.headerSize >= 44 ? `,${msg.nameUpper}` : ""}}`,
        );
      parts.push(`payload=${msg.payload.length}B`);
  }
  return parts.join(" ");
}
