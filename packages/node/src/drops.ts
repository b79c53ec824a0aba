/**
 * The node's own causes in `stats().drops.transport`: kebab-case, as the link's and the
 * distributor's drop causes are, whatever the style of the error code behind them.
 */
import type { LinkEngineErrorCode } from "@tipcjs/link";
import type { TransportErrorCode } from "@tipcjs/transport";

/** A datagram a transport refused to send, or an error it reported through `onError`, by its code. */
const TRANSPORT_ERROR_CAUSES = {
  CLOSED: "closed",
  BAD_ADDRESS: "bad-address",
  OVERSIZE: "oversize",
  BAD_DATAGRAM: "bad-datagram",
  ADDRESS_IN_USE: "address-in-use",
  OPEN_FAILED: "open-failed",
  SOCKET: "socket",
  HANDLER: "handler",
} as const satisfies Record<TransportErrorCode, string>;

/** A message the link refused to send (a binding update, a data or key message), by its code. */
const LINK_REFUSAL_CAUSES = {
  NOT_ADDRESSED: "link-not-addressed",
  NO_SUCH_PEER: "link-no-such-peer",
  PEER_DOWN: "link-peer-down",
  BAD_MESSAGE: "link-bad-message",
  STOPPED: "link-stopped",
  TOO_LARGE: "link-too-large",
  BAD_OPTIONS: "link-bad-options",
  NO_SUCH_LINK: "link-no-such-link",
} as const satisfies Record<LinkEngineErrorCode, string>;

/**
 * Every cause the node itself counts in `stats().drops.transport`; each bearer's
 * `Transport.drops()` adds its own (for UDP: `learn-<cause>`, `send-queue-full`).
 */
export const NODE_TRANSPORT_DROP_CAUSES = [
  ...Object.values(TRANSPORT_ERROR_CAUSES),
  ...Object.values(LINK_REFUSAL_CAUSES),
  /** an exception in a core during a step of the event loop, logged and survived */
  "internal",
] as const;

/** One of {@link NODE_TRANSPORT_DROP_CAUSES}. */
export type NodeTransportDropCause =
  | (typeof TRANSPORT_ERROR_CAUSES)[TransportErrorCode]
  | (typeof LINK_REFUSAL_CAUSES)[LinkEngineErrorCode]
  | "internal";

export function transportErrorCause(code: TransportErrorCode): NodeTransportDropCause {
  return TRANSPORT_ERROR_CAUSES[code];
}

export function linkRefusalCause(code: LinkEngineErrorCode): NodeTransportDropCause {
  return LINK_REFUSAL_CAUSES[code];
}
