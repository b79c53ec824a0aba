// A throw-away network: one "switch" namespace with a bridge, and N member namespaces, each
// with one veth into that bridge. Nothing connects to the root namespace, so multicast sent
// inside can never leave through a real interface. Names carry our pid so that a later run can
// remove what a killed run left behind.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";

const PREFIX = "tipcjs-ns";

export interface Member {
  /** namespace name */
  ns: string;
  /** interface name inside the namespace */
  dev: string;
  ipv4: string;
  ipv6: string;
}

export interface Network {
  id: string;
  members: Member[];
  /** Removes every namespace of this network (and so its interfaces). Idempotent. */
  destroy(): void;
}

function ip(...args: string[]): string {
  return execFileSync("ip", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

function inNs(ns: string, ...args: string[]): string {
  return ip("netns", "exec", ns, ...args);
}

function listOurs(): string[] {
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

/** Removes namespaces left by runs whose process is gone. */
export function removeStale(): void {
  for (const ns of listOurs()) {
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

/** True when this process may create namespaces (root with iproute2). */
export function canCreateNamespaces(): boolean {
  try {
    const probe = `${PREFIX}-${process.pid}-probe${randomBytes(2).toString("hex")}`;
    ip("netns", "add", probe);
    ip("netns", "del", probe);
    return true;
  } catch {
    return false;
  }
}

export function createNetwork(count: number): Network {
  removeStale();
  const id = `${process.pid}-${randomBytes(3).toString("hex")}`;
  const sw = `${PREFIX}-${id}-sw`;
  const created: string[] = [];
  const destroy = () => {
    process.off("exit", destroy);
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
      const m: Member = { ns, dev: "eth0", ipv4: `10.77.0.${i}`, ipv6: `fd77::${i}` };
      inNs(ns, "ip", "link", "add", m.dev, "type", "veth", "peer", "name", `p${i}`, "netns", sw);
      inNs(sw, "ip", "link", "set", `p${i}`, "master", "br0");
      inNs(sw, "ip", "link", "set", `p${i}`, "up");
      inNs(ns, "ip", "link", "set", "lo", "up");
      inNs(ns, "ip", "addr", "add", `${m.ipv4}/24`, "dev", m.dev);
      inNs(ns, "ip", "-6", "addr", "add", `${m.ipv6}/64`, "dev", m.dev, "nodad");
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

/** Names of this module's namespaces that exist now (for the test's own cleanup check). */
export function existingNamespaces(id: string): string[] {
  return listOurs().filter((n) => n.includes(id));
}
