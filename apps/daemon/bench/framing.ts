// How a 66,000-byte socket message is best carried on the control socket: base64 inside the
// JSON line, or the raw bytes after a line that announces them (what the protocol does).
// Run: npx tsx apps/daemon/bench/framing.ts (figures in PROTOCOL.md "Framing").
import { encodeFrame, type Frame, FrameDecoder } from "../../../packages/client/src/framing.js";

const data = new Uint8Array(66_000).map((_, i) => (i * 7) & 0xff);
const N = 2000;
const header = { event: "socket", socket: 123456, data: { kind: "message", source: { node: 1, port: 2 } } };
const payloadOf = (f: Frame | undefined) => (f?.kind === "message" ? f : undefined);

let t = performance.now();
for (let i = 0; i < N; i++) {
  const b64 = Buffer.from(data).toString("base64");
  const line = `${JSON.stringify({ ...header, data: { ...header.data, payload: b64 } })}\n`;
  const f = payloadOf(new FrameDecoder({ maxLineBytes: 1 << 20 }).push(Buffer.from(line))[0]);
  const m = f?.message as { data: { payload: string } };
  if (Buffer.from(m.data.payload, "base64").length !== data.length) throw new Error("base64 round trip");
}
const base64 = ((performance.now() - t) / N) * 1000;

t = performance.now();
for (let i = 0; i < N; i++) {
  const [line, payload] = encodeFrame(header, data);
  const d = new FrameDecoder({ maxLineBytes: 1 << 20 });
  d.push(Buffer.from(line));
  const f = payloadOf(d.push(Buffer.from(payload as Uint8Array))[0]);
  if (f?.payload?.length !== data.length) throw new Error("raw round trip");
}
const raw = ((performance.now() - t) / N) * 1000;

console.log(
  `66,000-byte message, encode + frame + decode: base64 in JSON ${base64.toFixed(0)} us ` +
    `(${Math.ceil(data.length / 3) * 4} bytes of text), raw frame ${raw.toFixed(0)} us (${data.length} bytes)`,
);
