/**
 * Issue 16, tests 1 and 4 as the issue words them: a program on **tipcd** (through
 * `@tipcjs/client` sockets, the Unix-socket hop and the daemon's node) and the real kernel's
 * AF_TIPC sockets (`guest/tipc-dgram`), tipcd in TAP mode as in kernel-tipcd.test.ts. The rest of
 * issue 16's kernel tests run on an in-process node in kernel-datagram.test.ts; these check that
 * the daemon's path carries the same bytes, order and rejections.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ClientSocket, TipcClient } from "@tipcjs/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkStream, fnv, guestRecv, guestSend, payload, readN, sameBytes } from "./harness/dgram.js";
import {
  bootGuest,
  connectTipcd,
  createTapNetns,
  findLinkTo,
  type KernelGuest,
  startTipcd,
  type TapNetns,
  type Tipcd,
} from "./harness/index.js";

const HOST_PORT = 6119; // inside the namespace: no other process can collide
const T = 21_000;
const SIZES = [1, 1024, 14_000, 60_000, 66_000];

describe("datagrams between the kernel and a program on tipcd (issue 16)", () => {
  const dir = mkdtempSync(join(tmpdir(), "tipcjs-interop-dgram-tipcd-"));
  const socketPath = join(dir, "tipcd.sock");
  let ns: TapNetns;
  let guest: KernelGuest;
  let tipcd: Tipcd;
  let client: TipcClient;
  let kernel = 0;
  let self = 0;

  /** tipcd's replica shows {type, instance} bound on `node` */
  async function tipcdSees(type: number, instance: number, node: number): Promise<void> {
    await guest.waitFor(`{${type}, ${instance}} in tipcd's table`, async () =>
      (await client.lookupInstance(type, instance)).some((b) => b.node === node) ? true : undefined,
    );
  }
  async function kernelSees(type: number, lower: number): Promise<void> {
    await guest.waitFor(`{${type}, ${lower}} in the kernel's table`, async () =>
      (await guest.nameTable()).some((e) => e.type === type && e.lower === lower) ? true : undefined,
    );
  }

  beforeAll(async () => {
    ns = await createTapNetns(`tipcjs-dgtipcd-${process.pid}`);
    guest = await bootGuest({
      hostPort: HOST_PORT,
      tapNetns: ns.name,
      tapNetnsExternal: true,
      consoleLogPath: join(dir, "console.txt"),
    });
    kernel = Number.parseInt(await guest.exec("tipc node get address"), 16);
    tipcd = await startTipcd({ netns: ns.name, nodeId: "tipcd-dgram", hostPort: HOST_PORT, socketPath });
    client = await connectTipcd(socketPath);
    self = client.info.address;
    await guest.waitFor(
      "link up in the kernel",
      async () => findLinkTo(await guest.links(), "tipcd-dgram")?.state === "up",
    );
    await guest.waitFor("link up in tipcd", async () =>
      (await client.nodes()).some((n) => n.address === kernel && n.up) ? true : undefined,
    );
  }, 300_000);

  afterAll(async () => {
    await client?.close().catch(() => {});
    await tipcd?.close();
    await guest?.close();
    await ns?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const type of ["rdm", "dgram"] as const) {
    it(`1a. ${type}: payloads of ${SIZES.join(", ")} bytes arrive byte for byte, both ways`, async () => {
      const ty = T + 10 + (type === "rdm" ? 0 : 1);
      // tipcd's program -> kernel, by service address
      const r = await guestRecv(guest, `--type ${type} --bind ${ty} 1 1 --count ${SIZES.length} --show 9`, 1);
      await tipcdSees(ty, 1, kernel);
      const s = await client.socket({ type });
      await s.bind({ type: ty, lower: 2, upper: 2 });
      for (const [i, len] of SIZES.entries()) await s.sendTo({ type: ty, instance: 1 }, payload(i, len));
      const rep = await r.result();
      expect(rep.bad).toBe(0);
      expect(rep.msgs.map((m) => m.len)).toEqual(SIZES);
      expect(rep.msgs.map((m) => m.fnv)).toEqual(SIZES.map((len, i) => fnv(payload(i, len))));
      expect(rep.msgs.every((m) => m.ok && m.node === self && m.port === s.port)).toBe(true);

      // kernel -> tipcd's program, by service address
      await kernelSees(ty, 2);
      const received = readN(s, SIZES.length);
      const sent = await guestSend(
        guest,
        `--type ${type} --name ${ty} 2 --size ${SIZES.join(",")} --count 5`,
      );
      expect(sent.sent).toBe(SIZES.length);
      const evs = await received;
      evs.forEach((e, i) => {
        expect(e.kind).toBe("message");
        if (e.kind !== "message") return;
        expect(e.source).toEqual({ node: kernel, port: sent.port });
        expect(e.destination).toEqual({ kind: "service", type: ty, instance: 2 });
        expect(sameBytes(e.data, payload(i, SIZES[i] as number))).toBe(true);
      });
      await s.close();
    }, 240_000);
  }

  it("1b. 10,000 messages each way arrive exactly once and in order per sender", async () => {
    const ty = T + 15;
    const N = 10_000;
    const r = await guestRecv(guest, `--bind ${ty} 1 1 --count ${N} --idle 30000 --timeout 240000`, 1);
    await tipcdSees(ty, 1, kernel);
    const s: ClientSocket = await client.socket({ type: "rdm" });
    await s.bind({ type: ty, lower: 2, upper: 2 });
    // pipelined as a program would: at most 64 sends outstanding (the client's own bound)
    let failed: unknown;
    for (let i = 0; i < N; i++) {
      const p = s.sendTo({ type: ty, instance: 1 }, payload(i, 100));
      p.catch((e: unknown) => {
        failed ??= e;
      });
      if (s.pendingSends >= 64) await p;
    }
    const rep = await r.result(240_000);
    expect(failed).toBeUndefined();
    expect(rep.from).toEqual([
      { sock: 0, node: self, port: s.port, count: N, dup: 0, ooo: 0, bad: 0, first: 0, last: N - 1 },
    ]);

    await kernelSees(ty, 2);
    const received = readN(s, N, 240_000);
    const sent = await guestSend(guest, `--name ${ty} 2 --size 100 --count ${N}`, 240_000);
    expect(sent.sent).toBe(N);
    expect(checkStream(await received, { node: kernel, port: sent.port }, 0)).toEqual({ count: N, bad: 0 });
    expect(s.tryReceive()).toBeUndefined();
    await s.close();
  }, 600_000);

  it("4. rejection both ways: NO_PORT through TIPC_ERRINFO in the kernel, a returned event for the program", async () => {
    const ty = T + 40;
    // kernel -> a port of tipcd's that closed, TIPC_DEST_DROPPABLE cleared
    const gone = await client.socket({ type: "rdm" });
    const port = gone.port;
    await gone.close();
    const k = await guestSend(
      guest,
      `--id ${self} ${port} --droppable 0 --size 2000 --count 3 --returns 3000`,
    );
    expect(k.sent).toBe(3);
    expect(k.returned).toEqual([0, 1, 2].map((seq) => ({ err: 2, len: 1024, seq }))); // TIPC_ERR_NO_PORT

    // tipcd's program -> a kernel port that closed
    const r = await guestRecv(guest, `--bind ${ty} 1 1 --timeout 1`, 1);
    const kPort = r.ports[0]?.port as number;
    await r.result(30_000);
    const s = await client.socket({ type: "rdm", destDroppable: false });
    await s.sendToSocket({ node: kernel, port: kPort }, payload(7, 3000));
    const [ev] = await readN(s, 1, 30_000);
    expect(ev?.kind).toBe("returned");
    if (ev?.kind === "returned") {
      expect(ev.error).toBe("NO_PORT");
      expect(ev.errorCode).toBe(2);
      expect(ev.rejectedBy).toEqual({ node: kernel, port: kPort });
      expect(sameBytes(ev.data, payload(7, 3000).subarray(0, 1024))).toBe(true);
    }
    await s.close();
  }, 300_000);
});
