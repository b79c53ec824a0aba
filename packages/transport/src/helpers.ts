import {
  type ErrorHandler,
  type MediaAddress,
  type ReceiveHandler,
  TransportError,
  type Unsubscribe,
} from "./transport.js";

/**
 * Throws the contract's error for a datagram `send`/`broadcast` must refuse: not a Uint8Array
 * or empty (`BAD_DATAGRAM`), or longer than `mtu` (`OVERSIZE`).
 */
export function checkDatagram(datagram: unknown, mtu: number): asserts datagram is Uint8Array {
  if (!(datagram instanceof Uint8Array) || datagram.byteLength === 0) {
    throw new TransportError("BAD_DATAGRAM", "a datagram is a non-empty Uint8Array");
  }
  if (datagram.byteLength > mtu) {
    throw new TransportError(
      "OVERSIZE",
      `datagram of ${datagram.byteLength} bytes exceeds the MTU of ${mtu}`,
    );
  }
}

/**
 * The handler bookkeeping every transport needs: `onReceive`/`onError` with unsubscribe, and
 * delivery that isolates handler exceptions (rule 7 of the contract). Implementations may use
 * it or do the same by hand.
 */
export class Handlers {
  private receivers: ReceiveHandler[] = [];
  private errorHandlers: ErrorHandler[] = [];

  onReceive(handler: ReceiveHandler): Unsubscribe {
    this.receivers = [...this.receivers, handler];
    return () => {
      this.receivers = this.receivers.filter((h) => h !== handler);
    };
  }

  onError(handler: ErrorHandler): Unsubscribe {
    this.errorHandlers = [...this.errorHandlers, handler];
    return () => {
      this.errorHandlers = this.errorHandlers.filter((h) => h !== handler);
    };
  }

  /** Calls every receive handler; a throwing handler is reported as a `HANDLER` error. */
  deliver(datagram: Uint8Array, from: MediaAddress): void {
    const list = this.receivers;
    for (let i = 0; i < list.length; i++) {
      try {
        (list[i] as ReceiveHandler)(datagram, from);
      } catch (cause) {
        this.error(new TransportError("HANDLER", "a receive handler threw", { cause }));
      }
    }
  }

  /** Reports an error to every error handler; errors thrown by error handlers are dropped. */
  error(error: TransportError): void {
    for (const h of this.errorHandlers) {
      try {
        h(error);
      } catch {
        // an error handler that throws has nowhere left to report to
      }
    }
  }

  /** True when at least one receive handler is registered. */
  get hasReceivers(): boolean {
    return this.receivers.length > 0;
  }

  /** Forgets every handler (used by close()). */
  clear(): void {
    this.receivers = [];
    this.errorHandlers = [];
  }
}
