/**
 * The control protocol's framing, shared by tipcd and @tipcjs/client: newline-delimited JSON,
 * where a message whose top-level object has `"bytes": N` is followed by exactly N raw bytes (a
 * socket message's data). PROTOCOL.md "Framing" describes it for other languages.
 *
 * Why raw bytes after the line and not base64 inside it: base64 makes a 66,000-byte message
 * 88,000 bytes of JSON string that both sides must escape, scan for the newline and decode;
 * the raw frame is written as it is and read with one copy (PROTOCOL.md has the measurement).
 */

/** Largest data of one socket message (TIPC_MAX_USER_MSG_SIZE): the bound of a frame's payload. */
export const MAX_PAYLOAD_BYTES = 66_000;

const utf8 = new TextDecoder();

export type FramingErrorCode =
  /** the line is not JSON (the connection goes on: the next line is read) */
  | "PARSE_ERROR"
  /** a line longer than the decoder's bound (the stream cannot be trusted after it) */
  | "LINE_TOO_LONG"
  /** `bytes` is not an integer 0..maxPayloadBytes (what follows cannot be delimited) */
  | "BAD_PAYLOAD_LENGTH";

/** Bad framing from the other side; LINE_TOO_LONG and BAD_PAYLOAD_LENGTH end the stream. */
export class FramingError extends Error {
  override readonly name = "FramingError";
  readonly code: FramingErrorCode;
  constructor(code: FramingErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

export function isFramingError(e: unknown): e is FramingError {
  return (
    e instanceof FramingError ||
    (typeof e === "object" && e !== null && (e as { name?: unknown }).name === "FramingError" && "code" in e)
  );
}

/** One decoded item: a message (with its payload if it announced one), or an error. */
export type Frame =
  | { kind: "message"; message: unknown; payload?: Uint8Array }
  /** `fatal`: the decoder stops here (the caller answers and closes); otherwise go on reading */
  | { kind: "error"; error: FramingError; fatal: boolean };

export interface FrameDecoderOptions {
  /** longest line, newline excluded */
  maxLineBytes: number;
  /** largest payload a line may announce (default MAX_PAYLOAD_BYTES) */
  maxPayloadBytes?: number;
}

/**
 * Splits a byte stream into frames. Holds at most one line (maxLineBytes) or one payload
 * (maxPayloadBytes) of unfinished input; past a bound it yields a fatal error and ignores the rest.
 */
export class FrameDecoder {
  private readonly maxLine: number;
  private readonly maxPayload: number;
  /** the unfinished line, or the unfinished payload */
  private parts: Uint8Array[] = [];
  private partBytes = 0;
  /** the message whose payload is being read, and its length */
  private header: unknown;
  private need = -1;
  private failed = false;

  constructor(options: FrameDecoderOptions) {
    this.maxLine = options.maxLineBytes;
    this.maxPayload = options.maxPayloadBytes ?? MAX_PAYLOAD_BYTES;
  }

  /** True once a fatal error was yielded: everything after it is ignored. */
  get stopped(): boolean {
    return this.failed;
  }

  /** Bytes of an unfinished line or payload held. */
  get buffered(): number {
    return this.partBytes;
  }

  /**
   * Decodes what `chunk` completes. The chunk is kept, not copied (a payload may be a view of it):
   * pass buffers that are not reused afterwards, as a net.Socket's `data` chunks are not.
   */
  push(chunk: Uint8Array): Frame[] {
    const out: Frame[] = [];
    let at = 0;
    while (at < chunk.length && !this.failed) {
      if (this.need >= 0) {
        const take = Math.min(this.need - this.partBytes, chunk.length - at);
        this.parts.push(chunk.subarray(at, at + take));
        this.partBytes += take;
        at += take;
        if (this.partBytes === this.need) {
          out.push({ kind: "message", message: this.header, payload: this.take() });
          this.header = undefined;
          this.need = -1;
        }
        continue;
      }
      const nl = chunk.indexOf(10, at);
      const end = nl < 0 ? chunk.length : nl;
      if (this.partBytes + (end - at) > this.maxLine) {
        this.fail(out, "LINE_TOO_LONG", `a line is limited to ${this.maxLine} bytes`);
        break;
      }
      this.parts.push(chunk.subarray(at, end));
      this.partBytes += end - at;
      at = end;
      if (nl < 0) break;
      at = nl + 1;
      this.line(this.take(), out);
    }
    return out;
  }

  private line(bytes: Uint8Array, out: Frame[]): void {
    let len = bytes.length;
    if (len > 0 && bytes[len - 1] === 13) len--;
    const text = utf8.decode(bytes.subarray(0, len));
    if (text.trim() === "") return;
    let message: unknown;
    try {
      message = JSON.parse(text);
    } catch (e) {
      out.push({
        kind: "error",
        error: new FramingError("PARSE_ERROR", `not JSON: ${(e as Error).message}`),
        fatal: false,
      });
      return;
    }
    const bytesField =
      typeof message === "object" && message !== null && !Array.isArray(message)
        ? (message as { bytes?: unknown }).bytes
        : undefined;
    if (bytesField === undefined) {
      out.push({ kind: "message", message });
      return;
    }
    if (
      typeof bytesField !== "number" ||
      !Number.isInteger(bytesField) ||
      bytesField < 0 ||
      bytesField > this.maxPayload
    ) {
      this.fail(
        out,
        "BAD_PAYLOAD_LENGTH",
        `"bytes" must be an integer 0..${this.maxPayload}, got ${JSON.stringify(bytesField)}`,
      );
      return;
    }
    if (bytesField === 0) {
      out.push({ kind: "message", message, payload: new Uint8Array(0) });
      return;
    }
    this.header = message;
    this.need = bytesField;
  }

  private take(): Uint8Array {
    const b = concat(this.parts, this.partBytes);
    this.parts = [];
    this.partBytes = 0;
    return b;
  }

  private fail(out: Frame[], code: FramingErrorCode, message: string): void {
    this.failed = true;
    this.parts = [];
    this.partBytes = 0;
    out.push({ kind: "error", error: new FramingError(code, message), fatal: true });
  }
}

function concat(parts: Uint8Array[], total: number): Uint8Array {
  if (parts.length === 1) return parts[0] as Uint8Array;
  const b = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    b.set(p, at);
    at += p.length;
  }
  return b;
}

/**
 * A message as it goes on the wire: its JSON line, then (with `payload`) the raw bytes, announced
 * by a `bytes` field added to the message. Write the pieces in order.
 */
export function encodeFrame(message: object, payload?: Uint8Array): [string] | [string, Uint8Array] {
  if (payload === undefined) return [`${JSON.stringify(message)}\n`];
  const line = `${JSON.stringify({ ...message, bytes: payload.length })}\n`;
  return payload.length === 0 ? [line] : [line, payload];
}
