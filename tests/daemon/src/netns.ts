// A throw-away network for tipcd: a "switch" namespace holding a bridge, and N member namespaces,
// each with one veth into it. Nothing reaches the root namespace, so multicast sent inside stays
// inside. Names carry our pid, so a later run removes what a killed run left behind.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";

const PREFIX = "tipcd-ns";

export interface Member {
  ns: string;
  dev: string;
  ipv4: string;
}

export interface Network {
  id: string;
  members: Member[];
  /** Removes every namespace of this network. Idempotent. */
  destroy(): void;
}

const ip = (...args: string[]) =>
  execFileSync("ip", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
const inNs = (ns: string, ...args: string[]) => ip("netns", "exec", ns, ...args);

function ours(): string[] {
  return ip("netns", "list")
    .split("\n")
    .map((l) => l.split(" ")[0] ?? "")
    .filter((n) => n.startsWith(`${PREFIX}-`));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as { code?: string }).code === "EPERM";
  }
}

/** Removes namespaces of runs whose process is gone. */
export function removeStale(): void {
  for (const ns of ours()) {
    const pid = Number(ns.split("-")[2]);
    if (Number.isInteger(pid) && !alive(pid)) {
      try {
        ip("netns", "del", ns);
      } catch {
        // already gone
      }
    }
  }
}

export function existingNamespaces(id: string): string[] {
  return ours().filter((n) => n.includes(id));
}

export function createNetwork(count: number): Network {
  removeStale();
  const id = `${process.pid}-${randomBytes(3).toString("hex")}`;
  const sw = `${PREFIX}-${id}-sw`;
  const created: string[] = [];
  const destroy = () => {
    for (const ns of created.splice(0).reverse()) {
      try {
        ip("netns", "del", ns);
      } catch {
        // already gone
      }
    }
  };
  // also on an abrupt exit of the test process
  process.once("exit", destroy);
  try {
    ip("netns", "add", sw);
    created.push(sw);
    inNs(sw, "ip", "link", "add", "br0", "type", "bridge", "mcast_snooping", "0");
    inNs(sw, "ip", "link", "set", "br0", "up");
    const members: Member[] = [];
    for (let i = 1; i <= count; i++) {
      const ns = `${PREFIX}-${id}-m${i}`;
      ip("netns", "add", ns);
      created.push(ns);
      const m: Member = { ns, dev: "eth0", ipv4: `10.78.0.${i}` };
      inNs(ns, "ip", "link", "add", m.dev, "type", "veth", "peer", "name", `p${i}`, "netns", sw);
      inNs(sw, "ip", "link", "set", `p${i}`, "master", "br0");
      inNs(sw, "ip", "link", "set", `p${i}`, "up");
      inNs(ns, "ip", "link", "set", "lo", "up");
      inNs(ns, "ip", "addr", "add", `${m.ipv4}/24`, "dev", m.dev);
      inNs(ns, "ip", "link", "set", m.dev, "up");
      inNs(ns, "ip", "route", "add", "224.0.0.0/4", "dev", m.dev);
      members.push(m);
    }
    return { id, members, destroy };
  } catch (e) {
    destroy();
    throw e;
  }
}
