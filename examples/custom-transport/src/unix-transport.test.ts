import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TransportError } from "@tipcjs/transport";
import { describeTransportConformance } from "@tipcjs/transport/conformance";
import { afterAll, describe, expect, it } from "vitest";
import { unixTransport } from "./unix-transport.js";

const dirs: string[] = [];
function freshDirectory(): string {
  const d = mkdtempSync(join(tmpdir(), "tipcjs-unix-"));
  dirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describeTransportConformance(
  "Unix datagram sockets (examples/custom-transport)",
  {
    setup: async (n) => {
      const directory = freshDirectory();
      return Array.from({ length: n }, () => unixTransport({ directory }));
    },
  },
  { describe, it },
);

describe("Unix datagram transport", () => {
  it("names members with pseudo addresses and lists the others as peers", async () => {
    const directory = freshDirectory();
    const a = unixTransport({ directory });
    const b = unixTransport({ directory });
    try {
      expect(a.localAddress).toEqual({ family: "ipv4", address: "127.66.0.1", port: 6118 });
      expect(b.localAddress.address).toBe("127.66.0.2");
      expect(a.peers()).toEqual([b.localAddress]);
      expect(a.path).toBe(join(directory, "127.66.0.1_6118.sock"));
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
    expect(unixTransport({ directory }).localAddress.address).toBe("127.66.0.1");
  });

  it("refuses a taken address with ADDRESS_IN_USE", async () => {
    const directory = freshDirectory();
    const a = unixTransport({ directory });
    try {
      expect(() => unixTransport({ directory, address: a.localAddress })).toThrow(
        expect.objectContaining({ code: "ADDRESS_IN_USE" }),
      );
    } finally {
      await a.close();
    }
  });

  it("reports a send to a member that is gone, and keeps working", async () => {
    const directory = freshDirectory();
    const a = unixTransport({ directory });
    const b = unixTransport({ directory });
    const errors: TransportError[] = [];
    a.onError((e) => errors.push(e));
    a.send({ family: "ipv4", address: "127.66.9.9", port: 6118 }, Uint8Array.of(1));
    let got = 0;
    b.onReceive(() => got++);
    for (let i = 0; i < 200 && (errors.length < 1 || got < 1); i++) {
      if (i === 0) a.send(b.localAddress, Uint8Array.of(2));
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(errors.map((e) => e.code)).toEqual(["SOCKET"]);
    expect(got).toBe(1);
    await Promise.all([a.close(), b.close()]);
  });
});
