// biome-ignore-all lint/style/noNonNullAssertion: test data of known shape
/**
 * fast-check arbitraries for every message user, producing messages in the canonical form
 * the decoder returns (so that decode(encode(m)) equals m). Used by the property tests and the
 * fuzz benchmark; not part of the published build.
 */
import fc from "fast-check";
import { formatIpv4, formatIpv6 } from "./address.js";
import { encodeMessage } from "./encode.js";
import {
  CONN_MANAGER_TYPES,
  DATA_TYPES,
  FRAGMENTER_TYPES,
  GROUP_PROTOCOL_TYPES,
  LINK_CONFIG_TYPES,
  LINK_PROTOCOL_TYPES,
  MSG_CRYPTO_TYPES,
  NAME_DISTRIBUTOR_TYPES,
  TUNNEL_TYPES,
  USER,
} from "./names.js";
import type {
  BcastProtocolMessage,
  BundlerMessage,
  DataMessage,
  DataUserName,
  FragmenterMessage,
  LinkConfigMessage,
  LinkProtocolMessage,
  NameDistributorMessage,
  OpaqueMessage,
  TipcMessage,
  TunnelMessage,
} from "./types.js";

const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const bytes = (maxLength: number) => fc.uint8Array({ maxLength });

const linkHeader = fc.record({
  nonSeq: fc.boolean(),
  bcastAck: u16,
  ack: u16,
  seqno: u16,
  prevNode: u32,
  origNode: u32,
  destNode: u32,
  netId: u32,
  bcAckInvalid: fc.boolean(),
});

/** nonSeq packets carry the net id in word 5; others carry bc_ack_invalid there. */
function word5<T extends { nonSeq: boolean; netId?: number; bcAckInvalid?: boolean }>(
  m: T,
  hasBcAckInvalid: boolean,
): T {
  if (m.nonSeq) {
    if (hasBcAckInvalid) m.bcAckInvalid = false;
  } else {
    delete m.netId;
  }
  if (!hasBcAckInvalid) delete m.bcAckInvalid;
  return m;
}

export const nameItem = fc.record({ type: u32, lower: u32, upper: u32, port: u32, key: u32 });

export const nameDistributorMessage: fc.Arbitrary<NameDistributorMessage> = fc
  .tuple(
    linkHeader,
    fc.constantFrom(...NAME_DISTRIBUTOR_TYPES),
    fc.boolean(),
    fc.boolean(),
    fc.boolean(),
    u16,
    fc.array(nameItem, { maxLength: 12 }),
  )
  .map(([h, type, bulk, lastBulk, nonLegacy, namedSeqno, items]) =>
    word5(
      { user: "NAME_DISTRIBUTOR" as const, type, ...h, bulk, lastBulk, nonLegacy, namedSeqno, items },
      true,
    ),
  );

const gapBlock = fc.record({ ack: u16, gap: u16 });
const gapAcks = fc.record({
  broadcast: fc.array(gapBlock, { maxLength: 6 }),
  unicast: fc.array(gapBlock, { maxLength: 6 }),
});
const monitor = fc.record({
  gen: u16,
  ackGen: u16,
  upMap: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
  members: fc.array(u32, { maxLength: 8 }),
});
const bearerName = fc.stringMatching(/^[a-z0-9:._-]{0,15}$/);

export const linkProtocolMessage: fc.Arbitrary<LinkProtocolMessage> = fc
  .record({
    type: fc.constantFrom(...LINK_PROTOCOL_TYPES),
    nonSeq: fc.boolean(),
    isKeepalive: fc.boolean(),
    seqGap: fc.integer({ min: 0, max: 0x1fff }),
    bcastAck: u16,
    destSessionValid: fc.boolean(),
    destSession: u16,
    ack: u16,
    seqno: u16,
    prevNode: u32,
    lastBcast: u16,
    nextSent: u16,
    session: u16,
    bcAckInvalid: fc.boolean(),
    peerStopping: fc.boolean(),
    redundantLink: fc.boolean(),
    bearerId: fc.integer({ min: 0, max: 7 }),
    priority: fc.integer({ min: 0, max: 31 }),
    netPlane: fc.integer({ min: 0, max: 7 }),
    probe: fc.boolean(),
    origNode: u32,
    destNode: u32,
    bcGap: fc.integer({ min: 0, max: 0x3ff }),
    maxPacket: u16.map((x) => x * 4),
    tolerance: u16,
    bearerName: fc.option(bearerName, { nil: undefined }),
    gapAcks: fc.option(gapAcks, { nil: undefined }),
    monitor: fc.option(monitor, { nil: undefined }),
  })
  .map((r) => {
    const m: LinkProtocolMessage = { user: "LINK_PROTOCOL", ...r };
    if (m.type === "ACTIVATE") {
      m.seqGap = 0;
      m.bcastAck = 0;
    } else {
      m.destSessionValid = false;
      m.destSession = 0;
    }
    if (m.type === "STATE") {
      delete m.bearerName;
      if (m.gapAcks === undefined) delete m.gapAcks;
      if (m.monitor === undefined) delete m.monitor;
      // A lone monitor record whose gen bytes happen to read as a consistent gap-ACK header
      // would decode as one: nudge gen off that coincidence.
      if (!m.gapAcks && m.monitor) {
        const g = m.monitor.gen;
        if (4 + 4 * ((g >> 8) + (g & 0xff)) === 16 + 4 * m.monitor.members.length) m.monitor.gen = g ^ 1;
      }
    } else {
      delete m.gapAcks;
      delete m.monitor;
      if (m.bearerName === undefined) delete m.bearerName;
    }
    return m;
  });

const mediaAddress = fc.oneof(
  fc.tuple(fc.uint8Array({ minLength: 4, maxLength: 4 }), u16).map(([ip, port]) => ({
    family: "ipv4" as const,
    address: formatIpv4(ip),
    port,
  })),
  fc.tuple(fc.uint8Array({ minLength: 16, maxLength: 16 }), u16).map(([ip, port]) => ({
    family: "ipv6" as const,
    address: formatIpv6(ip),
    port,
  })),
);

export const linkConfigMessage: fc.Arbitrary<LinkConfigMessage> = fc
  .record({
    type: fc.constantFrom(...LINK_CONFIG_TYPES),
    capabilities: fc.integer({ min: 0, max: 0x1fff }),
    signature: u16,
    destDomain: u32,
    prevNode: u32,
    netId: u32,
    mediaAddress,
    peerNetHash: u32,
    suggestedAddress: u32,
    nodeId: fc.uint8Array({ minLength: 16, maxLength: 16 }),
  })
  .map((r) => ({
    user: "LINK_CONFIG" as const,
    ...r,
    // bit 15 of the signature is capability bit 0 on the wire
    signature: (r.signature & 0x7fff) | ((r.capabilities & 1) << 15),
  }));

export const bcastProtocolMessage: fc.Arbitrary<BcastProtocolMessage> = fc
  .tuple(linkHeader, u16, u16)
  .map(([h, lastBcast, nextSent]) =>
    word5({ user: "BCAST_PROTOCOL" as const, type: "STATE" as const, ...h, lastBcast, nextSent }, true),
  );

export const dataMessage: fc.Arbitrary<DataMessage> = fc
  .record({
    user: fc.constantFrom<DataUserName>(
      "LOW_IMPORTANCE",
      "MEDIUM_IMPORTANCE",
      "HIGH_IMPORTANCE",
      "CRITICAL_IMPORTANCE",
    ),
    type: fc.constantFrom(...DATA_TYPES),
    headerSize: fc.constantFrom(24, 32, 40, 44),
    nonSeq: fc.boolean(),
    destDroppable: fc.boolean(),
    srcDroppable: fc.boolean(),
    syn: fc.boolean(),
    errorCode: fc.integer({ min: 0, max: 15 }),
    rerouteCount: fc.integer({ min: 0, max: 15 }),
    lookupScope: fc.integer({ min: 0, max: 3 }),
    bcastAck: u16,
    ack: u16,
    seqno: u16,
    prevNode: u32,
    origPort: u32,
    destPort: u32,
    origNode: u32,
    destNode: u32,
    nameType: u32,
    nameInstance: u32,
    nameUpper: u32,
    payload: bytes(64),
  })
  .map((m) => {
    if (m.headerSize < 32) {
      m.origNode = m.prevNode;
      m.destNode = 0;
    }
    if (m.headerSize < 40) {
      m.nameType = 0;
      m.nameInstance = 0;
    }
    if (m.headerSize < 44) m.nameUpper = 0;
    return m;
  });

export const bundlerMessage: fc.Arbitrary<BundlerMessage> = fc
  .tuple(
    linkHeader,
    fc.integer({ min: 0, max: 7 }),
    fc.array(fc.oneof(nameDistributorMessage, dataMessage, linkProtocolMessage), { maxLength: 4 }),
  )
  .map(([h, importance, inner]) =>
    word5(
      {
        user: "MSG_BUNDLER" as const,
        type: "BUNDLE" as const,
        ...h,
        importance,
        messages: inner.map(encodeMessage),
      },
      false,
    ),
  );

export const fragmenterMessage: fc.Arbitrary<FragmenterMessage> = fc
  .tuple(
    linkHeader,
    fc.constantFrom(...FRAGMENTER_TYPES),
    u16,
    u16,
    fc.integer({ min: 0, max: 7 }),
    bytes(200),
  )
  .map(([h, type, fragmentNumber, fragmentCount, importance, data]) =>
    word5(
      { user: "MSG_FRAGMENTER" as const, type, ...h, fragmentNumber, fragmentCount, importance, data },
      false,
    ),
  );

export const tunnelMessage: fc.Arbitrary<TunnelMessage> = fc
  .tuple(
    linkHeader,
    fc.constantFrom(...TUNNEL_TYPES),
    fc.integer({ min: 0, max: 7 }),
    u16,
    u16,
    u16,
    bytes(120),
  )
  .map(([h, type, bearerId, msgCount, fragmentNumber, fragmentCount, data]) => {
    const { netId: _n, bcAckInvalid: _b, ...rest } = h;
    return {
      user: "TUNNEL_PROTOCOL" as const,
      type,
      ...rest,
      bearerId,
      msgCount,
      fragmentNumber,
      fragmentCount,
      data,
    };
  });

export const opaqueMessage: fc.Arbitrary<OpaqueMessage> = fc
  .oneof(
    fc.tuple(fc.constant("CONN_MANAGER" as const), fc.constantFrom<string>(...CONN_MANAGER_TYPES)),
    fc.tuple(fc.constant("GROUP_PROTOCOL" as const), fc.constantFrom<string>(...GROUP_PROTOCOL_TYPES)),
    fc.tuple(fc.constant("MSG_CRYPTO" as const), fc.constantFrom<string>(...MSG_CRYPTO_TYPES)),
  )
  .chain(([user, type]) =>
    fc
      .tuple(fc.boolean(), fc.array(u32, { minLength: 6, maxLength: 15 }), bytes(64))
      .map(([nonSeq, words, data]) => {
        const names: Record<string, readonly string[]> = {
          CONN_MANAGER: CONN_MANAGER_TYPES,
          GROUP_PROTOCOL: GROUP_PROTOCOL_TYPES,
          MSG_CRYPTO: MSG_CRYPTO_TYPES,
        };
        const t = names[user]!.indexOf(type);
        const hsz = 4 * words.length;
        words[0] =
          (0x40000000 |
            (USER[user] << 25) |
            (words.length << 21) |
            (nonSeq ? 1 << 20 : 0) |
            (words[0]! & 0xe0000) |
            (hsz + data.length)) >>>
          0;
        words[1] = ((t << 29) | (words[1]! & 0x1fffffff)) >>> 0;
        return { user, type, nonSeq, headerWords: words, data };
      }),
  );

/** Any message of any user, canonical. */
export const tipcMessage: fc.Arbitrary<TipcMessage> = fc.oneof(
  nameDistributorMessage,
  linkProtocolMessage,
  linkConfigMessage,
  bcastProtocolMessage,
  bundlerMessage,
  fragmenterMessage,
  tunnelMessage,
  dataMessage,
  opaqueMessage,
);

/** Byte strings close to valid messages: encoded messages with bytes flipped, cut or appended. */
export const mutatedBytes: fc.Arbitrary<Uint8Array> = fc
  .tuple(
    tipcMessage.map(encodeMessage),
    fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
    fc.option(fc.nat(), { nil: undefined }),
    bytes(24),
  )
  .map(([enc, flips, cut, tail]) => {
    let b = new Uint8Array(enc.length + tail.length);
    b.set(enc);
    b.set(tail, enc.length);
    if (tail.length === 0) b = b.subarray(0, enc.length);
    for (const [pos, val] of flips) if (b.length) b[pos % b.length] = val;
    if (cut !== undefined && b.length) b = b.subarray(0, cut % (b.length + 1));
    return b;
  });
