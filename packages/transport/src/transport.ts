/**
 * The tipcjs Transport contract, version "v1".
 *
 * A transport moves opaque datagrams between media addresses. It guarantees NOTHING about
 * delivery: a datagram may be lost, duplicated, reordered or delayed, exactly as with UDP. The
 * TIPC link layer above it supplies ordering, acknowledgement and retransmission.
 *
 * The rules every implementation follows (checked by `@tipcjs/transport/conformance`):
 *
 * 1. `specificationVersion` is the literal `"v1"`.
 * 2. `send` and `broadcast` never block and never call a receive handler synchronously; delivery
 *    happens later (a later tick, a later timer, or a later turn of the caller's clock).
 * 3. `send` and `broadcast` throw a {@link TransportError} only for caller mistakes: a datagram
 *    that is empty or larger than `mtu` (`"OVERSIZE"` / `"BAD_DATAGRAM"`), a malformed or
 *    wrong-family destination (`"BAD_ADDRESS"`), or use after `close()` (`"CLOSED"`). Network
 *    failures never throw: the datagram counts as lost and the failure is reported to the
 *    `onError` handlers.
 * 4. The bytes passed to `send`/`broadcast` may be reused by the caller as soon as the call
 *    returns (the transport copies or transmits them before returning). A received datagram
 *    belongs to the receiver for reading; it may be shared with other handlers of the same
 *    transport (and, in-process, with other receivers of the same broadcast), so treat it as
 *    read-only.
 * 5. `from` in a receive handler is the sender's media address as this transport would use it
 *    in `send` to reply.
 * 6. `broadcast` reaches every member the transport can reach at that moment, but never the
 *    sender itself. `canBroadcast: true` means one transmission reaches all (multicast, a shared
 *    fabric); `false` means the transport copies the datagram to each peer it knows ("replicast"),
 *    so a caller choosing between broadcast and per-peer sending should prefer per-peer.
 * 7. An exception thrown by a receive handler never escapes into the transport: it is reported
 *    to the `onError` handlers (code `"HANDLER"`) and other handlers still receive the datagram.
 * 8. After `close()` resolves, no handler is called again and the transport's resources (sockets,
 *    timers) are released. `close()` may be called more than once.
 * 9. `peers()`, when a transport has it, lists well-formed addresses, each once, never its own;
 *    on a replicast transport (`canBroadcast: false`) it lists every member `broadcast` reaches.
 */

/** The contract version every implementation states. */
export type SpecificationVersion = "v1";

/**
 * Where a datagram comes from or goes to. Structurally the same as `@tipcjs/codec`'s
 * `UdpMediaAddress`: the link layer writes it into discovery messages (the media info area), so
 * every transport, even one that does not use IP, names its members with this shape. Non-IP
 * transports assign pseudo addresses (the memory fabric uses 127.77.x.y; the Unix-socket example
 * maps socket paths to such addresses) that are never used on a real network.
 */
export interface MediaAddress {
  family: "ipv4" | "ipv6";
  /** dotted quad (ipv4) or RFC 5952 text (ipv6), without brackets or zone */
  address: string;
  /** 0..65535 */
  port: number;
}

/** Called for each received datagram. */
export type ReceiveHandler = (datagram: Uint8Array, from: MediaAddress) => void;
/** Called for failures that are not the caller's fault (socket errors, handler exceptions). */
export type ErrorHandler = (error: TransportError) => void;
/** Removes a handler added with `onReceive` or `onError`. */
export type Unsubscribe = () => void;

export interface Transport {
  readonly specificationVersion: SpecificationVersion;
  /** This member's own media address: what peers see as `from`, and what it advertises. */
  readonly localAddress: MediaAddress;
  /** Largest datagram, in bytes, that `send` and `broadcast` accept. */
  readonly mtu: number;
  /** True when one `broadcast` is one transmission reaching all; false when it is replicated. */
  readonly canBroadcast: boolean;
  /** Sends one datagram to one member. Fire and forget (see the rules above). */
  send(to: MediaAddress, datagram: Uint8Array): void;
  /** Sends one datagram to every member this transport can reach, except itself. */
  broadcast(datagram: Uint8Array): void;
  /** Adds a receive handler; returns a function that removes it. */
  onReceive(handler: ReceiveHandler): Unsubscribe;
  /** Adds an error handler; returns a function that removes it. Errors with no handler are dropped. */
  onError(handler: ErrorHandler): Unsubscribe;
  /** Stops receiving and releases resources. Idempotent. */
  close(): Promise<void>;
  /**
   * Optional: the members `broadcast` reaches as this transport knows them now, never itself
   * (a replicast transport's configured and learned peers). The node sends discovery to them
   * when it is given no `discoveryPeers`. A transport that can broadcast may omit it or return
   * an empty list.
   */
  peers?(): MediaAddress[];
  /**
   * Optional: counted drops and refusals by cause (kebab-case), since the transport opened:
   * non-negative integer counts, each only growing. The node adds them to its
   * `stats().drops.transport`.
   */
  drops?(): Readonly<Record<string, number>>;
}

/** Why a transport refused or failed something. */
export type TransportErrorCode =
  /** the transport was closed before the call */
  | "CLOSED"
  /** a malformed address, or one of a family or kind this transport cannot reach */
  | "BAD_ADDRESS"
  /** the datagram is larger than `mtu` */
  | "OVERSIZE"
  /** the datagram is not a non-empty Uint8Array */
  | "BAD_DATAGRAM"
  /** the local address or port is already taken (when opening) */
  | "ADDRESS_IN_USE"
  /** any other failure to open (permissions, missing interface, bad options) */
  | "OPEN_FAILED"
  /** a runtime socket or medium error (reported through onError) */
  | "SOCKET"
  /** a receive handler threw (reported through onError; `cause` is what it threw) */
  | "HANDLER";

/** The one error type transports throw or report. */
export class TransportError extends Error {
  override readonly name = "TransportError";
  readonly code: TransportErrorCode;
  constructor(code: TransportErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** True when `e` is a {@link TransportError} (also across duplicated package copies). */
export function isTransportError(e: unknown): e is TransportError {
  return (
    e instanceof TransportError ||
    (typeof e === "object" &&
      e !== null &&
      (e as { name?: unknown }).name === "TransportError" &&
      "code" in e)
  );
}
