// biome-ignore-all lint/style/noNonNullAssertion: key slots are 0..3 and every array has 4 entries
/**
 * The kernel's TIPC encryption (net/tipc/crypto.c, Linux 5.10..6.x) as a sans-I/O engine: it
 * sits between the link and the bearer, encrypting every packet the node sends and decrypting
 * every datagram it receives, with the kernel's key slots, key states, timers and session-key
 * exchange. It never reads a clock: every call takes `now` (ms), and `tick(now)` runs the
 * timers that `nextDeadline()` announces. MSG_CRYPTO messages it wants sent come out of
 * `takeKeyMessages()`; the node sends them on the unicast (dest = address) or broadcast
 * (dest = 0) link, and gives received ones to `handleKeyMessage`.
 *
 * Names follow crypto.c: `tx` is the node's own crypto (`tipc_net(net)->crypto_tx`), one `rx`
 * per peer node (`n->crypto_rx`); a key slot 0..3 (`KEY_MASTER`, `KEY_1..KEY_3`) holds an
 * `aead`; `key` is the {pending, active, passive} slot triple (`struct tipc_key`).
 */
import { createCipheriv, createSecretKey, type KeyObject, randomBytes } from "node:crypto";
import {
  NODE_ID_LEN,
  peekDestNode,
  peekPrevNode,
  peekUserValue,
  readHeaderSize,
  USER,
  validateHeader,
} from "@tipcjs/codec";
import { type GcmAlgorithm, gcmAlgorithm, openFrame } from "./aead.js";
import {
  buildIv,
  EHDR_USER_LINK_CONFIG,
  EHDR_USER_LINK_PROTOCOL,
  type Ehdr,
  ehdrSize,
  IV_SIZE,
  isEncrypted,
  readEhdr,
  TAG_SIZE,
  writeEhdr,
} from "./ehdr.js";
import {
  type AeadKey,
  buildKeyDistrMessage,
  CLUSTER_KEY,
  KEY_DISTR_MSG,
  keyHint,
  PER_NODE_KEY,
  readKeyDistrMessage,
  TipcCryptoError,
  validateKey,
} from "./key.js";
import { REPLAY_WINDOW_SIZE, ReplayGuard } from "./replay.js";

/** crypto.c timers, in ms. */
export const TIPC_TX_GRACE_PERIOD = 5000;
export const TIPC_TX_LASTING_TIME = 10000;
export const TIPC_RX_ACTIVE_LIM = 3000;
export const TIPC_RX_PASSIVE_LIM = 15000;
/** TIPC_REKEYING_INTV_DEF, in minutes: one day. */
export const TIPC_REKEYING_INTV_DEF = 60 * 24;
/** Delay before retrying a key attach or releasing a key distribution (tipc_crypto_work_rx). */
export const TIPC_KEY_WORK_RETRY = 5000;

const KEY_MASTER = 0;
const KEY_MAX = 3;
const KEY_DISTR_SCHED = 1;
const KEY_DISTR_COMPL = 2;
const SKB_PROBING = 1;
const SKB_GRACING = 2;

/** `key_next()`: 1 -> 2 -> 3 -> 1 (0 -> 1). */
const keyNext = (cur: number): number => (cur % KEY_MAX) + 1;

/** Why a datagram or packet was dropped. Kebab-case, as the link's drop causes. */
export type CryptoDropCause =
  /** an unencrypted datagram while keys are set and `refusePlaintext` is on */
  | "crypto-plaintext-refused"
  /** version 7 but too short, or a seqno past 2^53 */
  | "crypto-malformed"
  /** an encrypted non-discovery datagram from an address we know no node for */
  | "crypto-unknown-peer"
  /** no key for the datagram's key id (kernel: -ENOKEY, "nokeys") */
  | "crypto-no-key"
  /** the tag did not verify: wrong key, tampered header, data or tag (kernel: -EBADMSG) */
  | "crypto-auth-failed"
  /** a seqno already accepted, or older than the replay window */
  | "crypto-replay"
  /** decrypted, but not a valid TIPC message inside (kernel: tipc_msg_validate) */
  | "crypto-bad-inner"
  /** a new peer while `maxPeers` are known */
  | "crypto-peer-table-full"
  /** nothing to send with: keys set but none usable for this packet (kernel: TX -ENOKEY) */
  | "crypto-tx-no-key"
  /** a packet to encrypt that is not a TIPC message */
  | "crypto-bad-packet"
  /** MSG_CRYPTO that did not arrive encrypted (kernel link.c: `decrypted` check) */
  | "crypto-key-msg-not-decrypted"
  /** MSG_CRYPTO while key exchange is off (sysctl tipc.key_exchange_enabled = 0) */
  | "crypto-key-exchange-disabled"
  /** MSG_CRYPTO from a node we do not know */
  | "crypto-key-msg-unknown-peer"
  /** MSG_CRYPTO that is malformed or carries a key the kernel could not use */
  | "crypto-key-msg-invalid"
  /** a session key while one is pending, or one of the generation we hold (tipc_crypto_key_rcv) */
  | "crypto-key-msg-duplicate";

export const CRYPTO_DROP_CAUSES: readonly CryptoDropCause[] = [
  "crypto-plaintext-refused",
  "crypto-malformed",
  "crypto-unknown-peer",
  "crypto-no-key",
  "crypto-auth-failed",
  "crypto-replay",
  "crypto-bad-inner",
  "crypto-peer-table-full",
  "crypto-tx-no-key",
  "crypto-bad-packet",
  "crypto-key-msg-not-decrypted",
  "crypto-key-exchange-disabled",
  "crypto-key-msg-unknown-peer",
  "crypto-key-msg-invalid",
  "crypto-key-msg-duplicate",
];

interface Aead {
  mode: number;
  key: AeadKey;
  cipherKey: KeyObject;
  algorithm: GcmAlgorithm;
  salt: Uint8Array;
  hint: string;
  gen: number;
  /** the key's own seqno (cluster-wide) */
  seqno: number;
  /** > 0: in use; RX keys count down on each failure (tipc_aead_users_*) */
  users: number;
  /** replay guards of the sender streams decrypted with this key (RX keys) */
  keyStream: ReplayGuard;
  peerStream: ReplayGuard;
}

interface KeyState {
  pending: number;
  active: number;
  passive: number;
}

/** Kernel-style counters (tipc_crypto_stats: ok, nok, badmsgs/badkeys, nokeys, switches). */
export interface CryptoCounters {
  ok: number;
  nok: number;
  /** RX: bad messages (authentication failures); TX: keys revoked */
  bad: number;
  nokeys: number;
  switches: number;
}

interface Crypto {
  aead: (Aead | undefined)[];
  key: KeyState;
  keyGen: number;
  working: boolean;
  keyMaster: boolean;
  legacyUser: boolean;
  nokey: boolean;
  timer1: number;
  timer2: number;
  stats: CryptoCounters;
}

interface Tx extends Crypto {
  rekeyingIntv: number;
  rekeyDue: number | undefined;
}

interface Rx extends Crypto {
  addr: number;
  id: Uint8Array | undefined;
  skey: AeadKey | undefined;
  skeyMode: number;
  keyDistr: number;
  workDue: number | undefined;
  peerRxActive: number;
  sndnxt: number;
  /** replay guards for packets decrypted with our TX keys (master key, or a failed attach) */
  foreign: WeakMap<Aead, ReplayGuard>;
}

export interface CryptoOptions {
  /** our TIPC address (tipc_own_addr) */
  ownAddr: number;
  /** our 16-byte node identity (tipc_own_id) */
  ownNodeId: Uint8Array;
  /** time of creation, ms */
  now?: number;
  /** refuse unencrypted datagrams while any key is set (default true; the kernel accepts them) */
  refusePlaintext?: boolean;
  /** sysctl net.tipc.key_exchange_enabled (default true) */
  keyExchange?: boolean;
  /** the peer kernel is little-endian (x86, arm64): how per-node nonces mix addresses. Default true. */
  peerLittleEndian?: boolean;
  /** bound on peers (RX cryptos) tracked; default 1024 */
  maxPeers?: number;
  /** replay window per sender stream, in seqnos; default 1024 */
  replayWindow?: number;
  /**
   * Count each authentication failure against the RX key, as the kernel does
   * (`tipc_aead_users_dec` in tipc_crypto_rcv_complete): enough forged datagrams then demote an
   * active key and remove a pending one, which breaks a per-node-key link. Default false: a
   * failure is counted in the stats only, and forged traffic cannot move key states.
   */
  demoteOnFailure?: boolean;
  /** how often the kernel's node timer runs tipc_crypto_timeout, ms; default 375 (tolerance/4) */
  timeoutIntervalMs?: number;
  /** random bytes (session keys, key_gen, distribution delays); default node:crypto randomBytes */
  random?: (n: number) => Uint8Array;
}

export type EncryptResult = { ok: true; frames: Uint8Array[] } | { ok: false; cause: CryptoDropCause };

export type DecryptResult =
  | {
      ok: true;
      /** the TIPC message (padding and ehdr/tag removed) */
      packet: Uint8Array;
      /** false for a plaintext datagram let through (no key set, or refusePlaintext off) */
      encrypted: boolean;
      /** ehdr fields of an encrypted datagram */
      ehdr?: Ehdr;
    }
  | { ok: false; cause: CryptoDropCause };

export interface KeyMessage {
  /** destination node address, or 0 for the broadcast link */
  dest: number;
  /** a complete MSG_CRYPTO/KEY_DISTR_MSG, for the link to sequence and send */
  bytes: Uint8Array;
}

export interface SetKeyOptions {
  /** per-node key: our own id sets our TX key, a peer's sets its RX key */
  nodeId?: Uint8Array;
  /** a cluster master key (5.10+); not with nodeId */
  master?: boolean;
}

export type SlotState = "active" | "pending" | "passive" | "master" | "none";

export interface KeySlotStatus {
  id: number;
  state: SlotState;
  hint?: string;
  mode?: "cluster" | "per-node";
  users?: number;
}

export interface KeyStatus {
  tx: KeySlotStatus[];
  peers: { addr: number; nodeId?: string; keys: KeySlotStatus[]; peerRxActive: number }[];
}

export interface CryptoStats {
  tx: CryptoCounters;
  /** summed over every peer */
  rx: CryptoCounters;
  drops: Record<CryptoDropCause, number>;
}

export interface CryptoEngine {
  /** `tipc node set key`: returns the key slot (1..3, 0 for a master key). Throws TipcCryptoError. */
  setKey(key: AeadKey, options: SetKeyOptions, now: number): number;
  /** `tipc node set key rekeying N|now`: minutes (0 = off) or "now". */
  setRekeying(interval: number | "now", now: number): void;
  /** `tipc node flush key`: every key, TX and RX. */
  flushKeys(now: number): void;
  /** A packet leaving on a bearer. `dest`: the peer's address on a unicast link, undefined for discovery and broadcast. */
  encrypt(packet: Uint8Array, dest: number | undefined, now: number): EncryptResult;
  /** A datagram arriving on a bearer. */
  decrypt(datagram: Uint8Array, now: number): DecryptResult;
  /** A MSG_CRYPTO message the link delivered; `decrypted`: the datagram that carried it was. */
  handleKeyMessage(message: Uint8Array, decrypted: boolean, now: number): void;
  /** Tells the engine a peer's address and id (from discovery), so it can take its datagrams. */
  notePeer(addr: number, nodeId: Uint8Array | undefined, now: number): boolean;
  /**
   * The last link to the peer went down: its replay windows start afresh, so that a peer that
   * restarted (its seqnos from 1 again under the same key) can rejoin. Keys are kept.
   */
  peerDown(addr: number): void;
  /** The node is gone (tipc_node_delete_from_list): its RX keys and replay state are flushed. */
  forgetPeer(addr: number, now: number): void;
  tick(now: number): void;
  nextDeadline(): number | undefined;
  takeKeyMessages(): KeyMessage[];
  /**
   * Our address changed (the node's address trial ended on another one): the kernel reads
   * `tipc_own_addr` afresh each time, so per-node nonces and key messages use the new one.
   */
  setOwnAddr(addr: number): void;
  /** Any key set (TX or RX): what refusePlaintext keys on. */
  hasKeys(): boolean;
  stats(): CryptoStats;
  keyStatus(): KeyStatus;
}

const ZERO_PAD = new Uint8Array(3);

export function createCrypto(options: CryptoOptions): CryptoEngine {
  if (options.ownNodeId.length !== NODE_ID_LEN) throw new RangeError("ownNodeId: 16 bytes");
  let ownAddr = options.ownAddr >>> 0;
  const ownId = Uint8Array.from(options.ownNodeId);
  const random = options.random ?? ((n: number) => new Uint8Array(randomBytes(n)));
  const refusePlaintext = options.refusePlaintext ?? true;
  const keyExchange = options.keyExchange ?? true;
  const hostLE = options.peerLittleEndian ?? true;
  const maxPeers = options.maxPeers ?? 1024;
  const replaySize = options.replayWindow ?? REPLAY_WINDOW_SIZE;
  const timeoutInterval = options.timeoutIntervalMs ?? 375;
  const demoteOnFailure = options.demoteOnFailure ?? false;
  const start = options.now ?? 0;
  const iv = new Uint8Array(IV_SIZE);
  const outbox: KeyMessage[] = [];
  const drops = Object.fromEntries(CRYPTO_DROP_CAUSES.map((c) => [c, 0])) as Record<CryptoDropCause, number>;
  let nextTimeout: number | undefined;
  /** Whether any crypto (TX or a peer's RX) is working; recomputed only when keys come or go. */
  let keysSet = false;

  const random16 = () => {
    const b = random(2);
    return ((b[0]! << 8) | b[1]!) & 0xffff;
  };
  const counters = (): CryptoCounters => ({ ok: 0, nok: 0, bad: 0, nokeys: 0, switches: 0 });
  const baseCrypto = (now: number): Crypto => ({
    aead: [undefined, undefined, undefined, undefined],
    key: { pending: 0, active: 0, passive: 0 },
    keyGen: random16(),
    working: false,
    keyMaster: false,
    legacyUser: false,
    nokey: false,
    timer1: now,
    timer2: now,
    stats: counters(),
  });

  const tx: Tx = { ...baseCrypto(start), rekeyingIntv: TIPC_REKEYING_INTV_DEF, rekeyDue: undefined };
  const peersByAddr = new Map<number, Rx>();
  const peersById = new Map<string, Rx>();
  const peers = new Set<Rx>();

  const idKey = (id: Uint8Array) => Buffer.from(id).toString("hex");

  function newPeer(addr: number, id: Uint8Array | undefined, now: number): Rx | undefined {
    if (peers.size >= maxPeers) {
      drops["crypto-peer-table-full"]++;
      return undefined;
    }
    const rx: Rx = {
      ...baseCrypto(now),
      addr,
      id: id ? Uint8Array.from(id) : undefined,
      skey: undefined,
      skeyMode: 0,
      keyDistr: 0,
      workDue: undefined,
      peerRxActive: 0,
      sndnxt: 0,
      foreign: new WeakMap(),
    };
    peers.add(rx);
    if (addr) peersByAddr.set(addr, rx);
    if (id) peersById.set(idKey(id), rx);
    return rx;
  }

  /** Finds the peer by id and/or address, merging what we learn. */
  function findPeer(addr: number, id: Uint8Array | undefined, create: boolean, now: number): Rx | undefined {
    let rx = id ? peersById.get(idKey(id)) : undefined;
    if (!rx && addr) rx = peersByAddr.get(addr);
    if (!rx) return create ? newPeer(addr, id, now) : undefined;
    if (addr && rx.addr !== addr) {
      if (rx.addr && peersByAddr.get(rx.addr) === rx) peersByAddr.delete(rx.addr);
      rx.addr = addr;
      peersByAddr.set(addr, rx);
    }
    if (id && !rx.id) {
      rx.id = Uint8Array.from(id);
      peersById.set(idKey(id), rx);
    }
    return rx;
  }

  function makeAead(key: AeadKey, mode: number): Aead {
    const n = key.material.length - 4;
    return {
      mode,
      key,
      cipherKey: createSecretKey(key.material.subarray(0, n)),
      algorithm: gcmAlgorithm(key.material.length),
      salt: key.material.slice(n),
      hint: keyHint(key),
      gen: 0,
      seqno: 0,
      users: 0,
      keyStream: new ReplayGuard(replaySize),
      peerStream: new ReplayGuard(replaySize),
    };
  }

  /** tipc_aead_clone: the same cipher key, its own seqno, users and replay state. */
  function cloneAead(src: Aead): Aead {
    return {
      ...src,
      seqno: 0,
      users: 0,
      keyStream: new ReplayGuard(replaySize),
      peerStream: new ReplayGuard(replaySize),
    };
  }

  const isTx = (c: Crypto): c is Tx => c === tx;

  /** tipc_crypto_key_set_state; an RX active change restarts that peer's per-peer streams. */
  function setState(c: Crypto, passive: number, active: number, pending: number): void {
    const changed = c.key.active !== active;
    c.key = { passive, active, pending };
    if (changed && !isTx(c)) {
      // The peer resets its per-peer sndnxt when it sees our new rx_key_active.
      for (const a of c.aead) a?.peerStream.restart();
    }
  }

  /** tipc_crypto_key_attach: returns the slot, or -1 (-EBUSY). */
  function attach(c: Crypto, aead: Aead, pos: number, master: boolean): number {
    const key = { ...c.key };
    let newKey: number;
    if (master) {
      newKey = KEY_MASTER;
    } else {
      if (key.active && key.passive) return -1;
      if (key.pending) {
        if ((c.aead[key.pending]?.users ?? 0) > 0) return -1;
        newKey = key.pending;
      } else if (pos && key.active && pos !== keyNext(key.active)) {
        key.passive = pos;
        newKey = pos;
      } else if (pos && !key.active && !key.passive) {
        key.pending = pos;
        newKey = pos;
      } else {
        key.pending = keyNext(key.active || key.passive);
        newKey = key.pending;
      }
    }
    if (isTx(c)) c.keyGen = (c.keyGen + 1) & 0xffff;
    aead.gen = c.keyGen;
    c.aead[newKey] = aead;
    if (key.pending !== c.key.pending || key.active !== c.key.active || key.passive !== c.key.passive) {
      setState(c, key.passive, key.active, key.pending);
    }
    c.working = true;
    keysSet = true;
    c.nokey = false;
    c.keyMaster ||= master;
    return newKey;
  }

  /** tipc_crypto_key_init */
  function keyInit(c: Crypto, key: AeadKey, mode: number, master: boolean): number {
    return attach(c, makeAead(key, mode), 0, master);
  }

  /** tipc_crypto_key_flush */
  function flush(c: Crypto, now: number): void {
    if (!isTx(c)) {
      const rx = c as Rx;
      if (rx.workDue !== undefined) {
        rx.workDue = undefined;
        rx.skey = undefined;
        rx.keyDistr = 0;
      }
      const k = rx.peerRxActive;
      rx.peerRxActive = 0;
      if (k) {
        const a = tx.aead[k];
        if (a && a.users > 0) a.users--;
        tx.timer1 = now;
      }
      rx.sndnxt = 0;
    }
    c.working = false;
    c.keyMaster = false;
    c.legacyUser = false;
    c.nokey = false;
    setState(c, 0, 0, 0);
    c.aead = [undefined, undefined, undefined, undefined];
    recomputeKeys();
  }

  /** tipc_crypto_key_try_align */
  function tryAlign(rx: Rx, newPending: number): boolean {
    const key = rx.key;
    if (key.pending === newPending) return true;
    if (key.active) return false;
    if (!key.pending) return false;
    const pend = rx.aead[key.pending]!;
    if (pend.users > 0) return false;
    const pas = key.passive ? rx.aead[key.passive] : undefined;
    let newPassive = 0;
    if (key.passive) {
      const x = (key.passive - key.pending + newPending) % KEY_MAX;
      newPassive = x <= 0 ? x + KEY_MAX : x;
    }
    rx.aead[key.pending] = undefined;
    if (key.passive) rx.aead[key.passive] = undefined;
    setState(rx, newPassive, 0, newPending);
    rx.aead[newPending] = pend;
    if (newPassive) rx.aead[newPassive] = pas;
    return true;
  }

  /** tipc_crypto_key_distr / tipc_crypto_key_xmit */
  function keyDistr(slot: number, dest: number): boolean {
    if (!keyExchange) return true;
    const aead = slot ? tx.aead[slot] : undefined;
    if (!aead) return false;
    outbox.push({ dest, bytes: buildKeyDistrMessage(ownAddr, dest, aead.gen, aead.mode, aead.key) });
    return true;
  }

  /** tipc_crypto_rekeying_sched */
  function rekeyingSched(changed: boolean, interval: number | "now", now: number): void {
    let immediate = false;
    if (changed) {
      if (interval === "now") immediate = true;
      else tx.rekeyingIntv = interval;
      tx.rekeyDue = undefined;
    }
    // queue_delayed_work does not move work that is already queued
    if ((tx.rekeyingIntv || immediate) && tx.rekeyDue === undefined) {
      tx.rekeyDue = now + (immediate ? 0 : tx.rekeyingIntv * 60_000);
    }
  }

  /** tipc_crypto_work_tx: a fresh per-node session key, attached to TX and sent to all. */
  function workTx(now: number): void {
    tx.rekeyDue = undefined;
    if (!tx.key.pending) {
      const template = tx.aead[tx.key.active || KEY_MASTER];
      if (!template) return; // "at least one key should exist for securing"
      const material = random(template.key.material.length);
      const slot = keyInit(
        tx,
        { algName: template.key.algName, material: Uint8Array.from(material) },
        PER_NODE_KEY,
        false,
      );
      if (slot > 0) keyDistr(slot, 0);
    }
    rekeyingSched(false, 0, now);
  }

  /** tipc_crypto_work_rx: distribute our key to the peer if scheduled; attach its session key. */
  function workRx(rx: Rx, now: number): void {
    rx.workDue = undefined;
    let resched = false;
    if (rx.keyDistr === KEY_DISTR_SCHED) {
      rx.keyDistr = KEY_DISTR_COMPL;
      keyDistr(tx.key.pending || tx.key.active, rx.addr);
      resched = true;
    } else if (rx.keyDistr === KEY_DISTR_COMPL) {
      rx.keyDistr = 0;
    }
    if (rx.skey) {
      const rc = keyInit(rx, rx.skey, rx.skeyMode, false);
      if (rc < 0) resched = true;
      else rx.skey = undefined;
    }
    if (resched) rx.workDue = now + TIPC_KEY_WORK_RETRY;
  }

  /** tipc_crypto_timeout(rx): the TX and RX key switches. */
  function timeout(rx: Rx, now: number): void {
    let key = tx.key;
    const users = (c: Crypto, k: number) => c.aead[k]?.users ?? 0;
    if (
      !(key.active && users(tx, key.active) > 0) &&
      key.pending &&
      users(tx, key.pending) > 0 &&
      now >= tx.timer1 + TIPC_TX_LASTING_TIME
    ) {
      const old = key.active;
      setState(tx, key.passive, key.pending, 0);
      if (old) tx.aead[old] = undefined;
      tx.stats.switches++;
    }

    key = { ...rx.key };
    if (key.pending && users(rx, key.pending) > 0) {
      if (key.active) key.passive = key.active;
      key.active = key.pending;
      rx.timer2 = now;
      setState(rx, key.passive, key.active, 0);
      rx.stats.switches++;
    } else if (key.pending && users(rx, key.pending) <= -10) {
      setState(rx, key.passive, key.active, 0);
      rx.aead[key.pending] = undefined;
    } else if (key.active && !(now < rx.timer1 + TIPC_RX_ACTIVE_LIM && users(rx, key.active) > 0)) {
      if (key.pending) key.passive = key.active;
      else key.pending = key.active;
      rx.timer2 = now;
      setState(rx, key.passive, 0, key.pending);
      const p = rx.aead[key.pending];
      if (p) p.users = 0;
    } else if (key.passive && !(now < rx.timer2 + TIPC_RX_PASSIVE_LIM && users(rx, key.passive) > -10)) {
      setState(rx, 0, key.active, key.pending);
      rx.aead[key.passive] = undefined;
    }

    if (now > tx.timer2 + TIPC_TX_GRACE_PERIOD) tx.legacyUser = false;
  }

  // ---- TX ----------------------------------------------------------------------------

  function encryptWith(
    aead: Aead,
    slot: number,
    packet: Uint8Array,
    rx: Rx | undefined,
    dest: number | undefined,
  ): Uint8Array | undefined {
    const user = peekUserValue(packet);
    const type = packet[4]! >>> 5;
    let euser = 0;
    let keepalive = false;
    if (user === USER.LINK_CONFIG) euser = EHDR_USER_LINK_CONFIG;
    else if (user === USER.LINK_PROTOCOL && type === 0) {
      euser = EHDR_USER_LINK_PROTOCOL;
      keepalive = (packet[1]! & 0x08) !== 0; // msg_is_keepalive: word 0 bit 19
    }
    // tipc_ehdr_build: the key's own seqno unless the destination is known in per-node mode
    const seqno = !rx || aead.mode === CLUSTER_KEY ? ++aead.seqno : ++rx.sndnxt;
    if (seqno >= Number.MAX_SAFE_INTEGER) return undefined;
    const ehsz = ehdrSize(euser);
    const len = (packet.length + 3) & ~3;
    const out = new Uint8Array(ehsz + len + TAG_SIZE);
    writeEhdr(
      {
        user: euser,
        destined: rx !== undefined,
        txKey: slot,
        rxKeyActive: rx ? rx.key.active : 0,
        keepalive,
        masterKey: tx.keyMaster,
        rxNokey: rx ? rx.nokey : false,
        seqno,
        addr: peekPrevNode(packet),
        id: ownId,
      },
      out,
    );
    buildIv(iv, aead.salt, out, aead.mode === CLUSTER_KEY, rx ? dest : undefined, hostLE);
    const cipher = createCipheriv(aead.algorithm, aead.cipherKey, iv, { authTagLength: TAG_SIZE });
    cipher.setAAD(out.subarray(0, ehsz));
    out.set(cipher.update(packet), ehsz);
    if (len > packet.length)
      out.set(cipher.update(ZERO_PAD.subarray(0, len - packet.length)), ehsz + packet.length);
    cipher.final();
    out.set(cipher.getAuthTag(), ehsz + len);
    return out;
  }

  /**
   * tipc_crypto_xmit's choice: the pending, master or active key, in that preference; -1 for
   * none. May first send probing (pending key) or gracing (master key) copies into `frames`.
   */
  function pickTxKey(
    packet: Uint8Array,
    rx: Rx | undefined,
    dest: number | undefined,
    now: number,
    xmitType: number,
    frames: Uint8Array[],
  ): number {
    const key = tx.key;
    const user = peekUserValue(packet);
    const type = packet[4]! >>> 5;
    if (key.pending) {
      if (!tx.keyMaster && !key.active) return key.pending;
      if (rx && rx.peerRxActive === key.pending) return key.pending;
      if (xmitType === SKB_PROBING) return key.pending;
      if (user === USER.LINK_CONFIG || user === USER.LINK_PROTOCOL)
        xmit(packet, rx, dest, now, SKB_PROBING, frames);
    }
    if (tx.keyMaster) {
      if (!key.active) return KEY_MASTER;
      if (xmitType === SKB_GRACING) return KEY_MASTER;
      if (
        user === USER.LINK_CONFIG ||
        (user === USER.LINK_PROTOCOL && type === 1) ||
        (user === USER.MSG_CRYPTO && type === KEY_DISTR_MSG) ||
        now < tx.timer2 + TIPC_TX_GRACE_PERIOD
      ) {
        if (rx?.keyMaster && !rx.peerRxActive) return KEY_MASTER;
        if (!rx) {
          if (!tx.legacyUser) return KEY_MASTER;
          xmit(packet, rx, dest, now, SKB_GRACING, frames);
        }
      }
    }
    return key.active || -1;
  }

  /** tipc_crypto_xmit for one copy of the packet. */
  function xmit(
    packet: Uint8Array,
    rx: Rx | undefined,
    dest: number | undefined,
    now: number,
    xmitType: number,
    frames: Uint8Array[],
  ): boolean {
    const txKey = pickTxKey(packet, rx, dest, now, xmitType, frames);
    const aead = txKey >= 0 ? tx.aead[txKey] : undefined;
    const out = aead ? encryptWith(aead, txKey, packet, rx, dest) : undefined;
    if (!out) {
      tx.stats.nok++;
      tx.stats.nokeys++;
      return false;
    }
    tx.stats.ok++;
    frames.push(out);
    return true;
  }

  function encrypt(packet: Uint8Array, dest: number | undefined, now: number): EncryptResult {
    if (!tx.working) return { ok: true, frames: [packet] };
    try {
      validateHeader(packet);
    } catch {
      drops["crypto-bad-packet"]++;
      return { ok: false, cause: "crypto-bad-packet" };
    }
    let rx: Rx | undefined;
    if (dest !== undefined) {
      rx = findPeer(dest >>> 0, undefined, true, now);
      if (!rx) return { ok: false, cause: "crypto-peer-table-full" };
    }
    const frames: Uint8Array[] = [];
    if (!xmit(packet, rx, dest, now, 0, frames)) {
      drops["crypto-tx-no-key"]++;
      return frames.length ? { ok: true, frames } : { ok: false, cause: "crypto-tx-no-key" };
    }
    return { ok: true, frames };
  }

  // ---- RX ----------------------------------------------------------------------------

  function open(aead: Aead, bytes: Uint8Array, ehsz: number, destined: boolean): Uint8Array | undefined {
    buildIv(iv, aead.salt, bytes, aead.mode === CLUSTER_KEY, destined ? ownAddr : undefined, hostLE);
    return openFrame(aead.algorithm, aead.cipherKey, iv, bytes, ehsz);
  }

  function drop(cause: CryptoDropCause): DecryptResult {
    drops[cause]++;
    return { ok: false, cause };
  }

  function guardOf(rx: Rx | undefined, aead: Aead, ownedByRx: boolean, ehdr: Ehdr): ReplayGuard | undefined {
    if (ownedByRx) return aead.mode === PER_NODE_KEY && ehdr.destined ? aead.peerStream : aead.keyStream;
    if (!rx) return undefined;
    let g = rx.foreign.get(aead);
    if (!g) {
      g = new ReplayGuard(replaySize);
      rx.foreign.set(aead, g);
    }
    return g;
  }

  function decrypt(bytes: Uint8Array, now: number): DecryptResult {
    if (!isEncrypted(bytes)) {
      if (bytes.length >= 1 && bytes[0]! >>> 5 === 7) return drop("crypto-malformed");
      if (refusePlaintext && hasKeys()) return drop("crypto-plaintext-refused");
      return { ok: true, packet: bytes, encrypted: false };
    }
    const ehdr = readEhdr(bytes);
    if (!ehdr) return drop("crypto-malformed");
    const ehsz = ehdrSize(ehdr.user);
    let rx: Rx | undefined;
    if (ehdr.user !== EHDR_USER_LINK_CONFIG) {
      rx = peersByAddr.get(ehdr.addr);
      if (!rx) return drop("crypto-unknown-peer");
    } else {
      rx = peersById.get(idKey(ehdr.id!));
    }
    const txKey = ehdr.txKey;
    const stats = (rx ?? tx).stats;

    let plain: Uint8Array | undefined;
    let used: Aead | undefined;
    let viaTx = false;
    let replayed = false;
    const attempt = (aead: Aead, owned: boolean): boolean => {
      const guard = guardOf(rx, aead, owned, ehdr);
      if (guard && !guard.check(ehdr.seqno)) {
        replayed = true;
        return false;
      }
      const pt = open(aead, bytes, ehsz, ehdr.destined);
      if (!pt) return false;
      plain = pt;
      used = aead;
      return true;
    };

    let noKey = false;
    if (
      rx &&
      txKey !== KEY_MASTER &&
      (txKey === rx.key.active || txKey === rx.key.pending || txKey === rx.key.passive || tryAlign(rx, txKey))
    ) {
      const aead = rx.aead[txKey];
      if (!aead) noKey = true;
      else if (!attempt(aead, true) && !replayed && demoteOnFailure)
        aead.users = Math.max(aead.users - 1, -0x8000_0000);
    } else {
      // tipc_crypto_key_pick_tx: the master key, or up to two of our cluster keys
      viaTx = true;
      const candidates: Aead[] = [];
      if (txKey === KEY_MASTER) {
        if (tx.aead[KEY_MASTER]) candidates.push(tx.aead[KEY_MASTER]);
      } else {
        for (const k of [tx.key.pending, tx.key.active, tx.key.passive]) {
          const a = k ? tx.aead[k] : undefined;
          if (a && a.mode === CLUSTER_KEY && candidates.length < 2 && !candidates.includes(a))
            candidates.push(a);
        }
      }
      if (!candidates.length) noKey = true;
      for (const a of candidates) if (attempt(a, false) || replayed) break;
    }

    if (noKey) {
      stats.nok++;
      stats.nokeys++;
      if (rx) rx.nokey = !(rx.skey || rx.aead[keyNext(txKey)]);
      return drop("crypto-no-key");
    }
    if (replayed) return drop("crypto-replay");
    if (!plain || !used) {
      stats.nok++;
      stats.bad++;
      return drop("crypto-auth-failed");
    }
    let aead: Aead = used;
    const pt: Uint8Array = plain;
    // tipc_msg_validate on what was inside
    let size: number;
    try {
      size = validateHeader(pt);
    } catch {
      return drop("crypto-bad-inner");
    }
    const packet = new Uint8Array(pt.buffer, pt.byteOffset, size);

    // tipc_crypto_rcv_complete
    let owned = !viaTx;
    if (viaTx) {
      if (!rx) {
        // a LINK_CONFIG from a node not known by id: the kernel creates it (tipc_node_create).
        // We may know it by address already (notePeer, or a unicast packet we sent it).
        rx = findPeer(ehdr.user === EHDR_USER_LINK_CONFIG ? peekPrevNode(packet) : 0, ehdr.id, true, now);
        if (!rx) return { ok: false, cause: "crypto-peer-table-full" };
      }
      const inStates = txKey === rx.key.active || txKey === rx.key.pending || txKey === rx.key.passive;
      const held = inStates ? rx.aead[txKey] : undefined;
      if (txKey === KEY_MASTER) {
        // the master key is never cloned into an RX slot
      } else if (held && Buffer.compare(held.key.material, aead.key.material) === 0) {
        aead = held;
        owned = true;
      } else if (!inStates) {
        const clone = cloneAead(aead);
        if (attach(rx, clone, txKey, false) >= 0) {
          aead = clone;
          owned = true;
        }
      }
    }
    const r = rx!;
    const guard = guardOf(r, aead, owned, ehdr);
    if (guard && !guard.check(ehdr.seqno)) return drop("crypto-replay");
    guard?.mark(ehdr.seqno);
    if (owned) {
      // tipc_aead_users_set(aead, 1): this RX key works; rx->timer1 marks when
      aead.users = 1;
      r.timer1 = now;
    }
    if (r.key.passive && txKey === r.key.passive) r.timer2 = now;
    if (ehdr.user === EHDR_USER_LINK_CONFIG && !r.addr) findPeer(peekPrevNode(packet), ehdr.id, false, now);
    r.stats.ok++;
    keySynch(r, ehdr, packet, now);
    return { ok: true, packet, encrypted: true, ehdr };
  }

  /** tipc_crypto_key_synch */
  function keySynch(rx: Rx, ehdr: Ehdr, packet: Uint8Array, now: number): void {
    rx.keyMaster = ehdr.masterKey;
    if (!rx.keyMaster) tx.legacyUser = true;
    // apply the rest only to messages destined to this node (msg_short, msg_destnode)
    if (!ehdr.destined || readHeaderSize(packet) === 24 || peekDestNode(packet) !== ownAddr) return;
    if (ehdr.rxNokey) {
      tx.timer2 = now;
      if (keysOf(tx) && rx.keyDistr === 0) {
        rx.keyDistr = KEY_DISTR_SCHED;
        const b = random(2);
        const delay = 500 * ((((b[0]! << 8) | b[1]!) % 5) + 1);
        if (rx.workDue === undefined) rx.workDue = now + delay;
      }
    } else {
      rx.keyDistr = 0;
    }
    const cur = rx.peerRxActive;
    const next = ehdr.rxKeyActive;
    if (keysOf(tx) && cur !== next) {
      rx.peerRxActive = next;
      const n = next ? tx.aead[next] : undefined;
      if (n && n.users < 0x7fff_ffff) n.users++;
      const c = cur ? tx.aead[cur] : undefined;
      if (c && c.users > 0) c.users--;
      rx.sndnxt = 0;
      tx.timer1 = now;
    }
  }

  const keysOf = (c: Crypto) => c.key.pending || c.key.active || c.key.passive;

  function hasKeys(): boolean {
    return keysSet;
  }
  function recomputeKeys(): void {
    keysSet = tx.working;
    for (const rx of peers) keysSet ||= rx.working;
  }

  // ---- control -----------------------------------------------------------------------

  function setKey(key: AeadKey, opts: SetKeyOptions, now: number): number {
    const k = validateKey(key);
    if (opts.master && opts.nodeId)
      throw new TipcCryptoError("INVALID_OPTION", "a per-node key cannot be a master key");
    let c: Crypto = tx;
    let mode = CLUSTER_KEY;
    const master = !opts.nodeId && !!opts.master;
    if (opts.nodeId) {
      if (opts.nodeId.length !== NODE_ID_LEN) throw new TipcCryptoError("INVALID_OPTION", "nodeId: 16 bytes");
      mode = PER_NODE_KEY;
      if (Buffer.compare(Buffer.from(opts.nodeId), Buffer.from(ownId)) !== 0) {
        const rx = findPeer(0, opts.nodeId, true, now);
        if (!rx) throw new TipcCryptoError("BUSY", "too many peers");
        c = rx;
      }
    }
    const slot = keyInit(c, k, mode, master);
    if (slot < 0)
      throw new TipcCryptoError(
        "BUSY",
        "no free key slot (a pending key is in use, or active and passive are set)",
      );
    if (c === tx) {
      if (!master) keyDistr(slot, 0);
      rekeyingSched(false, 0, now);
    }
    ensureTimer(now);
    return slot;
  }

  function ensureTimer(now: number): void {
    if (nextTimeout === undefined) nextTimeout = now + timeoutInterval;
  }

  function handleKeyMessage(message: Uint8Array, decrypted: boolean, now: number): void {
    if (!keyExchange) {
      drops["crypto-key-exchange-disabled"]++;
      return;
    }
    if (!decrypted) {
      drops["crypto-key-msg-not-decrypted"]++;
      return;
    }
    const m = readKeyDistrMessage(message);
    if (typeof m === "string") {
      drops["crypto-key-msg-invalid"]++;
      return;
    }
    const rx = peersByAddr.get(m.prevNode);
    if (!rx) {
      drops["crypto-key-msg-unknown-peer"]++;
      return;
    }
    // tipc_crypto_key_rcv
    if (rx.skey || (m.gen === rx.keyGen && keysOf(rx))) {
      drops["crypto-key-msg-duplicate"]++;
      return;
    }
    rx.keyGen = m.gen;
    rx.skeyMode = m.mode === CLUSTER_KEY ? CLUSTER_KEY : PER_NODE_KEY;
    rx.skey = m.key;
    rx.nokey = false;
    rx.workDue = now;
    workRx(rx, now);
    ensureTimer(now);
  }

  function tick(now: number): void {
    if (nextTimeout !== undefined && now >= nextTimeout) {
      for (const rx of peers) timeout(rx, now);
      nextTimeout = now + timeoutInterval;
    }
    for (const rx of peers) if (rx.workDue !== undefined && now >= rx.workDue) workRx(rx, now);
    if (tx.rekeyDue !== undefined && now >= tx.rekeyDue) workTx(now);
  }

  function nextDeadline(): number | undefined {
    let d = nextTimeout;
    const min = (t: number | undefined) => {
      if (t !== undefined && (d === undefined || t < d)) d = t;
    };
    for (const rx of peers) min(rx.workDue);
    min(tx.rekeyDue);
    return d;
  }

  function slotStatus(c: Crypto, master: boolean): KeySlotStatus[] {
    const out: KeySlotStatus[] = [];
    for (let k = master ? 0 : 1; k <= KEY_MAX; k++) {
      const a = c.aead[k];
      const state: SlotState =
        k === 0
          ? a
            ? "master"
            : "none"
          : k === c.key.passive
            ? "passive"
            : k === c.key.active
              ? "active"
              : k === c.key.pending
                ? "pending"
                : "none";
      out.push(
        a
          ? {
              id: k,
              state,
              hint: a.hint,
              mode: a.mode === CLUSTER_KEY ? "cluster" : "per-node",
              users: a.users,
            }
          : { id: k, state },
      );
    }
    return out;
  }

  const sum = (a: CryptoCounters, b: CryptoCounters) => {
    a.ok += b.ok;
    a.nok += b.nok;
    a.bad += b.bad;
    a.nokeys += b.nokeys;
    a.switches += b.switches;
  };

  return {
    setKey,
    setRekeying(interval, now) {
      if (interval !== "now" && (!Number.isInteger(interval) || interval < 0)) {
        throw new TipcCryptoError("INVALID_OPTION", 'rekeying interval: minutes >= 0, or "now"');
      }
      rekeyingSched(true, interval, now);
    },
    flushKeys(now) {
      flush(tx, now);
      for (const rx of peers) flush(rx, now);
    },
    encrypt,
    decrypt,
    handleKeyMessage,
    notePeer(addr, nodeId, now) {
      return findPeer(addr >>> 0, nodeId, true, now) !== undefined;
    },
    peerDown(addr) {
      const rx = peersByAddr.get(addr >>> 0);
      if (!rx) return;
      for (const a of rx.aead) {
        if (!a) continue;
        a.keyStream = new ReplayGuard(replaySize);
        a.peerStream = new ReplayGuard(replaySize);
      }
      rx.foreign = new WeakMap();
    },
    forgetPeer(addr, now) {
      const rx = peersByAddr.get(addr >>> 0);
      if (!rx) return;
      flush(rx, now);
      peers.delete(rx);
      peersByAddr.delete(rx.addr);
      if (rx.id) peersById.delete(idKey(rx.id));
    },
    tick,
    nextDeadline,
    takeKeyMessages() {
      return outbox.splice(0, outbox.length);
    },
    setOwnAddr(addr) {
      ownAddr = addr >>> 0;
    },
    hasKeys,
    stats() {
      const rxc = counters();
      for (const rx of peers) sum(rxc, rx.stats);
      return { tx: { ...tx.stats }, rx: rxc, drops: { ...drops } };
    },
    keyStatus() {
      return {
        tx: slotStatus(tx, true),
        peers: [...peers].map((rx) => ({
          addr: rx.addr,
          ...(rx.id ? { nodeId: idKey(rx.id) } : {}),
          keys: slotStatus(rx, false),
          peerRxActive: rx.peerRxActive,
        })),
      };
    },
  };
}
