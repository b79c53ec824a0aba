import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { encodeFrame, type Frame, FrameDecoder, isFramingError, MAX_PAYLOAD_BYTES } from "./framing.js";

const enc = (s: string) => Buffer.from(s);
const bytesOf = (pieces: (string | Uint8Array)[]) =>
  Buffer.concat(pieces.map((p) => (typeof p === "string" ? Buffer.from(p) : Buffer.from(p))));

/** Payloads as plain Uint8Array (the decoder gives views of the Buffers it was fed). */
const plain = (frames: Frame[]) =>
  frames.map((f) => (f.kind === "message" && f.payload ? { ...f, payload: new Uint8Array(f.payload) } : f));

/** Feeds `input` split at the given offsets. */
function decodeSplit(d: FrameDecoder, input: Uint8Array, cuts: number[]): Frame[] {
  const out: Frame[] = [];
  let at = 0;
  for (const c of [...cuts].sort((a, b) => a - b)) {
    if (c <= at || c >= input.length) continue;
    out.push(...d.push(Buffer.from(input.subarray(at, c))));
    at = c;
  }
  out.push(...d.push(Buffer.from(input.subarray(at))));
  return plain(out);
}

describe("FrameDecoder", () => {
  it("splits JSON lines, skips empty ones and a CR, reads an announced payload of raw bytes", () => {
    const d = new FrameDecoder({ maxLineBytes: 1024 });
    const data = new Uint8Array([0, 10, 13, 255, 10]);
    const frames = plain(
      d.push(
        bytesOf([
          '{"a":1}\r\n',
          "\n",
          ...encodeFrame({ b: 2 }, data),
          ...encodeFrame({ c: 3 }, new Uint8Array(0)),
        ]),
      ),
    );
    expect(frames).toEqual([
      { kind: "message", message: { a: 1 } },
      { kind: "message", message: { b: 2, bytes: 5 }, payload: data },
      { kind: "message", message: { c: 3, bytes: 0 }, payload: new Uint8Array(0) },
    ]);
    expect(d.buffered).toBe(0);
  });

  it("a line that is not JSON is a PARSE_ERROR and the next line is read", () => {
    const d = new FrameDecoder({ maxLineBytes: 1024 });
    const frames = d.push(
      Buffer.concat([enc("{nope\n"), Buffer.from([0xff, 0xfe, 0, 10]), enc('{"ok":true}\n')]),
    );
    expect(frames.map((f) => (f.kind === "error" ? `${f.error.code}:${f.fatal}` : "ok"))).toEqual([
      "PARSE_ERROR:false",
      "PARSE_ERROR:false",
      "ok",
    ]);
    expect(isFramingError((frames[0] as { error: unknown }).error)).toBe(true);
  });

  it("bounds a line: LINE_TOO_LONG once, before the whole line has arrived, and nothing after", () => {
    const d = new FrameDecoder({ maxLineBytes: 100 });
    expect(d.push(enc('{"x":1}\n'))).toHaveLength(1);
    const first = d.push(Buffer.alloc(60, 0x61));
    expect(first).toEqual([]);
    expect(d.buffered).toBe(60);
    const frames = d.push(Buffer.alloc(60, 0x61)); // no newline yet: 120 > 100
    expect(frames).toEqual([
      { kind: "error", error: expect.objectContaining({ code: "LINE_TOO_LONG" }), fatal: true },
    ]);
    expect(d.stopped).toBe(true);
    expect(d.buffered).toBe(0);
    expect(d.push(enc('{"y":2}\n'))).toEqual([]);
  });

  it("bounds a payload: bytes over the limit, negative, fractional or not a number is fatal", () => {
    for (const bad of [MAX_PAYLOAD_BYTES + 1, -1, 1.5, "5", null, 1e300]) {
      const d = new FrameDecoder({ maxLineBytes: 1024 });
      const frames = d.push(enc(`${JSON.stringify({ id: 1, bytes: bad })}\nxxxxx`));
      expect(frames).toEqual([
        { kind: "error", error: expect.objectContaining({ code: "BAD_PAYLOAD_LENGTH" }), fatal: true },
      ]);
      expect(d.stopped).toBe(true);
    }
    // the largest payload is taken
    const d = new FrameDecoder({ maxLineBytes: 1024 });
    const big = new Uint8Array(MAX_PAYLOAD_BYTES).fill(7);
    const frames = plain(d.push(bytesOf(encodeFrame({ id: 1 }, big))));
    expect(frames).toHaveLength(1);
    expect((frames[0] as { payload: Uint8Array }).payload).toEqual(big);
  });

  it("any split of a stream of frames decodes to the same frames (property)", () => {
    const frameArb = fc.record({
      n: fc.integer({ min: 0, max: 1000 }),
      data: fc.option(fc.uint8Array({ maxLength: 300 }), { nil: undefined }),
    });
    fc.assert(
      fc.property(
        fc.array(frameArb, { maxLength: 8 }),
        fc.array(fc.nat(4000), { maxLength: 20 }),
        (msgs, cuts) => {
          const input = bytesOf(msgs.flatMap((m) => encodeFrame({ n: m.n }, m.data)));
          const frames = decodeSplit(new FrameDecoder({ maxLineBytes: 64 }), input, cuts);
          expect(frames).toEqual(
            msgs.map((m) =>
              m.data === undefined
                ? { kind: "message", message: { n: m.n } }
                : { kind: "message", message: { n: m.n, bytes: m.data.length }, payload: m.data },
            ),
          );
        },
      ),
    );
  });

  it("no input makes it throw or hold more than its bound (property)", () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 20 }), (chunks) => {
        const d = new FrameDecoder({ maxLineBytes: 50, maxPayloadBytes: 100 });
        for (const c of chunks) {
          d.push(Buffer.from(c));
          expect(d.buffered).toBeLessThanOrEqual(100);
        }
      }),
    );
  });
});
