// Helpers of the unit tests: one node on a memory fabric (no address trial) behind a control socket.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createNode, type Logger, type TipcNode } from "@tipcjs/node";
import { type MemoryFabric, memoryFabric } from "@tipcjs/transport-memory";
import { type ControlServer, startControlServer } from "./control.js";
import { runCtl } from "./tipcctl.js";

export const silent: Logger = { debug() {}, info() {}, warn() {}, error() {} };

export interface Fixture {
  nodes: TipcNode[];
  /** the nodes' fabric (faults, partitions) */
  fabric: MemoryFabric;
  control: ControlServer;
  path: string;
  close(): Promise<void>;
}

/** `count` nodes on one memory fabric; the first is behind a control socket in a fresh temp dir. */
export async function startFixture(count = 1): Promise<Fixture> {
  const fabric = memoryFabric();
  const nodes = await Promise.all(
    Array.from({ length: count }, (_, i) =>
      createNode({ nodeId: `unit-${i + 1}`, transport: fabric.join(), skipTrial: true, closeTimeout: 200 }),
    ),
  );
  const path = join(mkdtempSync(join(tmpdir(), "tipcd-unit-")), "tipcd.sock");
  const control = await startControlServer(nodes[0] as TipcNode, { path, logger: silent, version: "test" });
  return {
    nodes,
    fabric,
    control,
    path,
    close: async () => {
      await control.close();
      await Promise.all(nodes.map((n) => n.close()));
    },
  };
}

export async function waitFor(
  cond: () => boolean | Promise<boolean>,
  ms: number,
  what: string,
): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** tipcctl in this process against the control socket at `socket`, with this stdin, until done or `interrupted` */
export async function runCtlIn(
  socket: string,
  args: string[],
  stdin = "",
  interrupted: Promise<void> = new Promise(() => {}),
): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await runCtl(["node", "tipcctl", "--socket", socket, ...args], {
    out: (t) => {
      out += t;
    },
    err: (t) => {
      err += t;
    },
    env: {},
    readStdin: () => stdin,
    interrupted,
  });
  return { code, out, err };
}
