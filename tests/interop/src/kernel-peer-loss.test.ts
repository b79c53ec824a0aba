/**
 * Loss of a peer (issue 9, test 4): QEMU killed, the host node killed, and both coming back.
 * The host node is @tipcjs/node in this process; "killed" means silenced at once (nothing sent,
 * nothing received), as a SIGKILLed daemon would be. Deadline: twice the link tolerance. Both the
 * kernel and @tipcjs/link declare a link down once it has been silent for the tolerance, checked on
 * a timer of a quarter tolerance, so detection ends between 1.0 and about 1.5 tolerances after the
 * last packet; the rest is the serial probe. Measured figures are printed and in the README.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  bootGuest,
  findLinkTo,
  freeUdpPort,
  type GuestOptions,
  type HostNode,
  type KernelGuest,
  startHostNode,
} from "./harness/index.js";

const TOLERANCE = 1500;
const KERNEL_RANGE = { type: 8000, lower: 1, upper: 10 };

async function within(
  what: string,
  since: number,
  deadlineMs: number,
  probe: () => boolean | Promise<boolean>,
) {
  for (;;) {
    const issued = Date.now();
    if (issued - since > deadlineMs) throw new Error(`${what}: not within ${deadlineMs} ms`);
    if (await probe()) return Date.now() - since;
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("tipcjs node <-> Linux kernel: loss of a peer", () => {
  let guestOptions: GuestOptions;
  let guest: KernelGuest;
  let host: HostNode;
  let hostPort: number;
  let hostForwardPort: number;
  const latencies: Record<string, number> = {};

  const kernelBindingsInNode = () => host.node.bindings().filter((b) => b.type === KERNEL_RANGE.type).length;
  const nodeBindingsInKernel = async () =>
    Number(await guest.exec(`tipc nametable show | awk '$1 == 8100 && $6 == "tipcjs-host"' | wc -l`));

  async function startHost(): Promise<HostNode> {
    const h = await startHostNode({ hostPort, hostForwardPort, tolerance: TOLERANCE });
    for (let i = 1; i <= 10; i++) h.node.publish({ type: 8100, lower: i });
    return h;
  }

  async function tablesInSync(): Promise<void> {
    await guest.waitFor(
      "link up in the kernel",
      async () => findLinkTo(await guest.links(), "tipcjs-host")?.state === "up",
    );
    await guest.waitFor("kernel bindings in the node", async () => kernelBindingsInNode() === 1);
    await guest.waitFor("node bindings in the kernel", async () => (await nodeBindingsInKernel()) === 10);
  }

  beforeAll(async () => {
    hostPort = await freeUdpPort();
    hostForwardPort = await freeUdpPort();
    guestOptions = { hostPort, hostForwardPort, bindings: [KERNEL_RANGE] };
    guest = await bootGuest(guestOptions);
    host = await startHost();
    await tablesInSync();
  });

  afterAll(async () => {
    await host?.node.close().catch(() => {});
    await guest?.close();
    console.log(`peer loss latencies (ms): ${JSON.stringify(latencies)}`);
  });

  it("4a. when QEMU is killed, the node purges the kernel's bindings within the link tolerance", async () => {
    expect(kernelBindingsInNode()).toBe(1);
    const t = Date.now();
    await guest.close();
    latencies.qemuKilledToPurge = await within(
      "purge in the node",
      t,
      2 * TOLERANCE,
      () => kernelBindingsInNode() === 0,
    );
    expect(host.node.nodes().find((n) => n.nodeId === "guest1")?.up).toBe(false);
  });

  it("4a'. when the kernel comes back, the tables re-sync", async () => {
    guest = await bootGuest(guestOptions);
    await tablesInSync();
    expect(host.node.nodes().find((n) => n.nodeId === "guest1")?.up).toBe(true);
  });

  it("4c. when the node is killed, the kernel purges its bindings after the tolerance", async () => {
    expect(await nodeBindingsInKernel()).toBe(10);
    const t = Date.now();
    host.blackhole();
    latencies.nodeKilledToKernelPurge = await within("purge in the kernel", t, 2 * TOLERANCE, async () => {
      return (await nodeBindingsInKernel()) === 0;
    });
    expect(findLinkTo(await guest.links(), "tipcjs-host")?.state).toBe("down");
    await host.node.close();
  });

  it("4c'. when the node comes back, the tables re-sync", async () => {
    host = await startHost();
    await tablesInSync();
  });
});
