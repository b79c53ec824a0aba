/**
 * Issue 14: the purge after SIGKILL with 50,000 bindings on each side. The kernel's rule
 * (`tipc_link_timeout`, 6.1): its node timer ticks every min(tolerance / 4, 500) ms; each tick
 * first fails the link if the silent-interval count exceeds tolerance / interval (4), then counts
 * one more silent interval (a packet from the peer resets the count). So a silent peer's link
 * fails on the sixth tick after its last packet: more than tolerance + one interval and at most
 * tolerance + two intervals after it (1,875 to 2,250 ms at the default 1,500), and the node's
 * bindings go with it. A killed process sends nothing after it dies, so on both sides (the
 * kernel purging tipcd's 50,000, tipcd purging the kernel's 50,000) the node must be down within
 * tolerance + two intervals of the kill, and its bindings gone within one interval more (the
 * purge's own work and the probe). The kernel is timed on the guest's clock, whose timers run
 * late under TCG when the host is loaded, so its node-down gets that interval as well.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TipcClient } from "@tipcjs/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  bindAll,
  bootGuest,
  connectTipcd,
  createTapNetns,
  findLinkTo,
  type GuestOptions,
  type KernelGuest,
  range,
  startTipcd,
  type TapNetns,
  type Tipcd,
  Truth,
} from "./harness/index.js";

const PORT = 6119;
const COUNT = 50_000;
const KERNEL_TYPE = 40000;
const TIPCD_TYPE = 41000;
const TOLERANCE = 1500;
const INTERVAL = Math.min(TOLERANCE / 4, 500);
/** the kernel's rule: a silent peer's link fails within this of its last packet */
const RULE = TOLERANCE + 2 * INTERVAL;
/** and its bindings are gone within one interval more */
const BOUND = RULE + INTERVAL;

describe("purge after SIGKILL with 50,000 bindings on each side", () => {
  const dir = mkdtempSync(join(tmpdir(), "tipcjs-interop-purge-"));
  const socketPath = join(dir, "tipcd.sock");
  let ns: TapNetns;
  let guestOptions: GuestOptions;
  let guest: KernelGuest;
  let tipcd: Tipcd | undefined;
  let c: TipcClient | undefined;
  const figures: Record<string, number> = {};

  const kernelCount = async (awkFilter: string) =>
    Number(await guest.exec(`tipc nametable show | awk '${awkFilter}' | wc -l`, { timeoutMs: 120_000 }));
  const client = () => c as TipcClient;
  const countOf = async (type: number) => (await client().bindings({ type })).length;

  /** tipcd with 50,000 bindings, linked to the kernel, each side holding the other's 50,000 */
  async function startSynced(extraArgs: string[] = []): Promise<void> {
    tipcd = await startTipcd({ netns: ns.name, nodeId: "tipcd-host", hostPort: PORT, socketPath, extraArgs });
    c = await connectTipcd(socketPath);
    const t = Date.now();
    await bindAll(client(), new Truth(), TIPCD_TYPE, range(1, COUNT));
    figures.tipcdBind = Date.now() - t;
    await guest.waitFor(
      "each side holds the other's 50,000",
      async () =>
        (await countOf(KERNEL_TYPE)) === COUNT &&
        (await kernelCount(`$1 == ${TIPCD_TYPE} && $6 == "tipcd-host"`)) === COUNT,
      { timeoutMs: 180_000, intervalMs: 1000 },
    );
    figures.synced = Date.now() - t;
  }

  beforeAll(async () => {
    ns = await createTapNetns(`tipcjs-purge-${process.pid}`);
    guestOptions = {
      hostPort: PORT,
      tapNetns: ns.name,
      tapNetnsExternal: true,
      consoleLogPath: join(dir, "console.txt"),
    };
    guest = await bootGuest(guestOptions);
    await guest.bindMany({ type: KERNEL_TYPE, lower: 1, upper: 1 }, COUNT);
  });

  afterAll(async () => {
    await c?.close().catch(() => {});
    await tipcd?.close();
    await guest?.close();
    await ns?.close();
    console.log(
      `purge with ${COUNT} bindings each side (ms; rule ${RULE}, bound ${BOUND}): ${JSON.stringify(figures)}`,
    );
    rmSync(dir, { recursive: true, force: true });
  });

  it("the kernel purges a SIGKILLed tipcd's 50,000 within tolerance + its supervision ticks", async () => {
    await startSynced();
    // Timed on the guest's clock: its uptime read just before the kill, then a loop in the guest
    // notes the uptime at which `tipc node list` no longer shows tipcd up (the kernel withdraws a
    // node's bindings as it takes the node down, `tipc_node_write_unlock` → `tipc_publ_notify`),
    // then checks the table holds none of tipcd's bindings (listing 100,000 rows takes seconds in
    // the guest, so that check has no deadline of its own).
    const before = Number(await guest.exec("cut -d' ' -f1 /proc/uptime"));
    tipcd?.kill("SIGKILL");
    const out = await guest.exec(
      `i=0; while tipc node list | grep tipcd-host | grep -q up && [ $i -lt 2000 ]; do usleep 5000; i=$((i + 1)); done; cut -d' ' -f1 /proc/uptime; tipc nametable show | awk '$6 == "tipcd-host"' | wc -l; cut -d' ' -f1 /proc/uptime`,
      { timeoutMs: 120_000 },
    );
    const [down, left, counted] = out.trim().split(/\s+/).map(Number) as [number, number, number];
    expect(await tipcd?.exited).toBe("SIGKILL");
    tipcd = undefined;
    await c?.close().catch(() => {});
    c = undefined;
    figures.kernelNodeDown = Math.round((down - before) * 1000);
    figures.kernelTableCheckedClean = Math.round((counted - before) * 1000);
    expect(left).toBe(0);
    // the guest's timers fire late when QEMU's one vCPU thread waits for a host core (2,090 ms
    // idle, 2,410 ms at load 8.5 measured here): the kernel side gets the purge's interval too
    expect(figures.kernelNodeDown).toBeLessThanOrEqual(BOUND);
    expect(await kernelCount(`$1 == ${KERNEL_TYPE}`)).toBe(COUNT); // its own kept
  });

  it("tipcd purges the killed kernel's 50,000 within tolerance + its supervision ticks", async () => {
    // info logs: the "link down" line's time is when tipcd's supervision failed the link
    await startSynced(["--log-level", "info"]);
    await guest.waitFor(
      "link up in the kernel",
      async () => findLinkTo(await guest.links(), "tipcd-host")?.state === "up",
    );
    // the kernel killed (SIGKILL to QEMU): it sends nothing more
    const t = Date.now();
    await guest.close();
    figures.qemuKilled = Date.now() - t;
    // polled with no deadline first, so the figures are known when the bound is missed; the
    // probe is two lookups (the first and last binding), cheap next to listing 50,000, then the
    // count confirms
    await guest.waitFor(
      "tipcd purged the kernel's bindings",
      async () =>
        (await client().lookupInstance(KERNEL_TYPE, 1)).length === 0 &&
        (await client().lookupInstance(KERNEL_TYPE, COUNT)).length === 0,
      { timeoutMs: 60_000, intervalMs: 10 },
    );
    figures.tipcdPurgedSeen = Date.now() - t;
    const down = (tipcd as Tipcd)
      .log()
      .split("\n")
      .flatMap((l) => {
        try {
          return [JSON.parse(l) as { msg?: string; time?: number; reason?: string }];
        } catch {
          return [];
        }
      })
      .find((l) => l.msg === "link down");
    figures.tipcdLinkDownLogged = (down?.time ?? Number.NaN) - t;
    expect(figures.tipcdLinkDownLogged).toBeLessThanOrEqual(RULE);
    expect(await countOf(KERNEL_TYPE)).toBe(0);
    expect(figures.tipcdPurgedSeen).toBeLessThanOrEqual(BOUND);
    expect(await countOf(TIPCD_TYPE)).toBe(COUNT); // its own kept
  });
});
