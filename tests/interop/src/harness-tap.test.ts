/**
 * The harness's TAP mode: the guest sits on a TAP device inside a network namespace the harness
 * creates, so a separate process in that namespace (a tipcd) reaches it at 10.0.2.15 directly,
 * with no address translation. Needs root, as CI has.
 */
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeMessage, nodeIdToString } from "@tipcjs/codec";
import { describe, expect, it } from "vitest";
import { bootGuest, GUEST_IP, HOST_IP_FROM_GUEST, netnsCommand } from "./harness/index.js";

/** Runs a one-shot UDP receiver on 10.0.2.2:port inside the namespace; resolves with the first datagram. */
function receiveOneInNetns(
  netns: string,
  port: number,
): Promise<{ hex: string; address: string; port: number }> {
  const script = `const s = require("node:dgram").createSocket("udp4");
s.on("message", (m, r) => { console.log(JSON.stringify({ hex: m.toString("hex"), address: r.address, port: r.port })); process.exit(0); });
s.bind(${port}, "${HOST_IP_FROM_GUEST}");
setTimeout(() => process.exit(2), 60000);`;
  const [cmd, ...args] = netnsCommand(netns, [process.execPath, "-e", script]);
  return new Promise((resolve, reject) => {
    const child = spawn(cmd as string, args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => {
      out += d;
    });
    child.stderr.on("data", (d) => {
      err += d;
    });
    child.on("close", (code) =>
      code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`receiver: ${code} ${err}`)),
    );
  });
}

const namespaces = () => execFileSync("ip", ["netns", "list"], { encoding: "utf8" });
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/**
 * A separate test process that makes a namespace (createTapNetns) and starts tipcd in it, then
 * hangs; the caller SIGKILLs it as a crashed vitest worker would be.
 */
function orphanMaker(netns: string, socketPath: string) {
  const harness = join(import.meta.dirname, "harness/tipcd.ts");
  const script = `import { createTapNetns, startTipcd } from ${JSON.stringify(harness)};
const ns = await createTapNetns(${JSON.stringify(netns)});
const t = await startTipcd({ netns: ns.name, nodeId: "orphan", hostPort: 6119, socketPath: ${JSON.stringify(socketPath)} });
console.log("TIPCD " + t.child.pid);
setInterval(() => {}, 1000);`;
  return spawn(
    process.execPath,
    ["-C", "@tipcjs/source", "--import", "tsx", "--input-type=module", "-e", script],
    {
      cwd: join(import.meta.dirname, "../../.."),
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
}

describe("interop harness, TAP mode", () => {
  it("puts the guest on a TAP device in its own namespace, reachable without translation, and removes it", async () => {
    const netns = `tipcjs-interop-${process.pid}`;
    const guest = await bootGuest({ hostPort: 6119, tapNetns: netns, identity: "tapguest" });
    let pid: number | undefined;
    try {
      pid = guest.pid;
      expect(namespaces()).toContain(netns);
      const d = await receiveOneInNetns(netns, 6119);
      // the datagram comes from the guest's own bearer address: no NAT in between
      expect(d.address).toBe(GUEST_IP);
      expect(d.port).toBe(6118);
      const m = decodeMessage(Buffer.from(d.hex, "hex"));
      expect(m.user).toBe("LINK_CONFIG");
      if (m.user === "LINK_CONFIG") {
        expect(nodeIdToString(m.nodeId)).toBe("tapguest");
        expect(m.mediaAddress).toEqual({ family: "ipv4", address: GUEST_IP, port: 6118 });
      }
      expect(await guest.exec("ip -4 route get 10.0.2.2")).toContain("dev eth0");
    } finally {
      await guest.close();
    }
    expect(namespaces()).not.toContain(netns);
    expect(() => process.kill(pid as number, 0)).toThrow();
  });

  it("tipcd and the namespace go with a test process that was SIGKILLed", async () => {
    const netns = `tipcjs-orphan-${process.pid}`;
    const dir = mkdtempSync(join(tmpdir(), "tipcjs-orphan-"));
    const maker = orphanMaker(netns, join(dir, "tipcd.sock"));
    try {
      let out = "";
      const pid = await new Promise<number>((resolve, reject) => {
        maker.stdout.on("data", (d) => {
          out += d;
          const m = /TIPCD (\d+)/.exec(out);
          if (m) resolve(Number(m[1]));
        });
        maker.stderr.on("data", (d) => {
          out += d;
        });
        maker.on("exit", (code) => reject(new Error(`exited ${code}: ${out}`)));
      });
      expect(namespaces()).toContain(netns);
      expect(alive(pid)).toBe(true);
      maker.kill("SIGKILL");
      for (let i = 0; i < 100 && (alive(pid) || namespaces().includes(netns)); i++) {
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(alive(pid)).toBe(false);
      expect(namespaces()).not.toContain(netns);
    } finally {
      maker.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
