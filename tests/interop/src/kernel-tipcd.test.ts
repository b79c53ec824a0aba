/**
 * tipcd (a separate process) and the kernel share one name table: a first end-to-end check of
 * issue 9 with the real daemon. The guest runs in TAP mode, tipcd in the guest's namespace on
 * 10.0.2.2 with the kernel as its replicast peer, and the test drives tipcd through
 * @tipcjs/client over its control socket.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { connect, type TipcClient } from "@tipcjs/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  bootGuest,
  findLinkTo,
  GUEST_IP,
  HOST_IP_FROM_GUEST,
  type KernelGuest,
  netnsCommand,
} from "./harness/index.js";

const REPO = resolve(import.meta.dirname, "../../..");
const HOST_PORT = 6119;

describe("tipcd <-> Linux kernel (TAP mode, @tipcjs/client)", () => {
  const dir = mkdtempSync(join(tmpdir(), "tipcjs-interop-tipcd-"));
  const socketPath = join(dir, "tipcd.sock");
  const netns = `tipcjs-interop-tipcd-${process.pid}`;
  let guest: KernelGuest;
  let tipcd: ChildProcess | undefined;
  let tipcdExited: Promise<number | null> | undefined;
  let tipcdLog = "";
  let client: TipcClient | undefined;
  const killTipcd = () => tipcd?.kill("SIGKILL");

  beforeAll(async () => {
    guest = await bootGuest({
      hostPort: HOST_PORT,
      tapNetns: netns,
      bindings: [{ type: 1000, lower: 1, upper: 10 }],
    });
    const [cmd, ...args] = netnsCommand(netns, [
      process.execPath,
      "-C",
      "@tipcjs/source",
      "--import",
      "tsx",
      join(REPO, "apps/daemon/src/tipcd.ts"),
      "--node-id",
      "tipcd-host",
      "--local-address",
      HOST_IP_FROM_GUEST,
      "--local-port",
      String(HOST_PORT),
      "--peer",
      `${GUEST_IP}:6118`,
      "--socket",
      socketPath,
      "--log-level",
      "warn",
      "--no-pretty",
    ]);
    tipcd = spawn(cmd as string, args, { cwd: REPO, stdio: ["ignore", "pipe", "pipe"] });
    process.once("exit", killTipcd);
    tipcd.stdout?.on("data", (d) => {
      tipcdLog += d;
    });
    tipcd.stderr?.on("data", (d) => {
      tipcdLog += d;
    });
    const child = tipcd;
    tipcdExited = new Promise((res) => child.on("exit", (code) => res(code)));
    await guest.waitFor(
      "tipcd's control socket",
      async () => {
        if (child.exitCode !== null) throw new Error(`tipcd exited (${child.exitCode}):\n${tipcdLog}`);
        return existsSync(socketPath);
      },
      { timeoutMs: 120_000 },
    );
    client = await connect(socketPath);
  });

  afterAll(async () => {
    await client?.close().catch(() => {});
    killTipcd();
    process.removeListener("exit", killTipcd);
    await guest?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("discovers the kernel and brings the link up", async () => {
    await guest.waitFor(
      "link up in the kernel",
      async () => findLinkTo(await guest.links(), "tipcd-host")?.state === "up",
    );
    const c = client as TipcClient;
    await guest.waitFor("link up in tipcd", async () =>
      (await c.links()).some((l) => l.state === "ESTABLISHED"),
    );
  });

  it("exchanges bindings both ways: bulk, then updates after link-up", async () => {
    const c = client as TipcClient;
    await guest.waitFor("the kernel's binding in tipcd", async () =>
      (await c.bindings()).some((b) => b.type === 1000 && b.lower === 1 && b.upper === 10),
    );
    await c.bind({ type: 2000, lower: 5, upper: 5, owner: "daemon" });
    await guest.waitFor("tipcd's binding in the kernel", async () =>
      (await guest.nameTable()).some((e) => e.type === 2000 && e.lower === 5 && e.node === "tipcd-host"),
    );
    await guest.bind({ type: 3000, lower: 7, upper: 8 });
    await guest.waitFor("the kernel's update in tipcd", async () =>
      (await c.bindings()).some((b) => b.type === 3000 && b.lower === 7 && b.upper === 8),
    );
    await c.unbind({ type: 2000, lower: 5, upper: 5 });
    await guest.waitFor("tipcd's withdrawal in the kernel", async () =>
      (await guest.nameTable()).every((e) => e.type !== 2000),
    );
  });

  it("when tipcd stops gracefully, the kernel withdraws its bindings", async () => {
    const c = client as TipcClient;
    await c.bind({ type: 2100, lower: 1, upper: 1, owner: "daemon" });
    await guest.waitFor("tipcd's binding in the kernel", async () =>
      (await guest.nameTable()).some((e) => e.type === 2100 && e.node === "tipcd-host"),
    );
    await client?.close().catch(() => {});
    client = undefined;
    tipcd?.kill("SIGTERM");
    expect(await tipcdExited).toBe(0);
    await guest.waitFor(
      "withdrawals in the kernel",
      async () => (await guest.nameTable()).every((e) => e.node !== "tipcd-host"),
      { timeoutMs: 5_000 },
    );
  });
});
