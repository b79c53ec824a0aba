/**
 * Loss and a rate cap on `tap0` inside a TAP namespace, with only what this host's kernel has:
 * `sch_netem` is not there (no modules at all on this machine's kernel), but `htb`, `pfifo`,
 * `cls_bpf`, `cls_u32`, `act_mirred` and `ifb` are. So:
 *
 * - toward the guest (tap0's egress): an `htb` root; class 1:10 carries the traffic (capped at
 *   `rateKbit`, queue of `queuePackets` in a `pfifo`), class 1:20 has a `pfifo` of limit 0, which
 *   drops all it gets; a classic-BPF classifier sends each IP packet to 1:20 with probability
 *   `lossPercent` (its `ld rand`, the kernel's SKF_AD_RANDOM), to 1:10 otherwise;
 * - from the guest (tap0's ingress): `act_mirred` redirects every frame to an `ifb0` in the same
 *   namespace, which has the same tree.
 *
 * Delay comes from QEMU (`netBufferMs` of `bootGuest`). The namespace and all this go with it.
 */
import { execFileSync } from "node:child_process";

export interface Direction {
  /** % of IP packets dropped at random (0 to 100) */
  lossPercent?: number;
  /** cap in kbit/s (default: none, 10 Gbit/s) */
  rateKbit?: number;
  /** packets the capped queue holds before it drops at its tail (default 1,000) */
  queuePackets?: number;
}

export interface Shaping {
  /** tipcd → kernel (tap0's egress) */
  toGuest?: Direction;
  /** kernel → tipcd (tap0's ingress, through ifb0) */
  fromGuest?: Direction;
}

export interface DirectionStats {
  /** packets the random loss dropped */
  lost: number;
  /** packets the capped queue dropped (full) */
  overflow: number;
  /** packets passed on */
  sent: number;
}

function tc(netns: string, args: string[]): string {
  return execFileSync("ip", ["netns", "exec", netns, "tc", ...args], { encoding: "utf8", stdio: "pipe" });
}

/** classic BPF: A = random u32; A >= threshold → 1:10 (pass) else 1:20 (dropped) */
function lossProgram(lossPercent: number): string {
  const threshold = Math.round((lossPercent / 100) * 0x1_0000_0000);
  const ldRandom = 0xfffff000 + 56; // SKF_AD_OFF + SKF_AD_RANDOM
  if (threshold <= 0) return "1,6 0 0 65552"; // ret 1:10
  if (threshold >= 0x1_0000_0000) return "1,6 0 0 65568"; // ret 1:20
  return `4,32 0 0 ${ldRandom},53 0 1 ${threshold},6 0 0 65552,6 0 0 65568`;
}

function tree(netns: string, dev: string, d: Direction): void {
  tc(netns, ["qdisc", "add", "dev", dev, "root", "handle", "1:", "htb", "default", "10", "r2q", "1000"]);
  const rate = d.rateKbit === undefined ? "10gbit" : `${d.rateKbit}kbit`;
  // a burst of two full frames: the cap holds at low rates too
  tc(netns, [
    "class",
    "add",
    "dev",
    dev,
    "parent",
    "1:",
    "classid",
    "1:10",
    "htb",
    "rate",
    rate,
    "burst",
    "3200",
  ]);
  tc(netns, [
    "qdisc",
    "add",
    "dev",
    dev,
    "parent",
    "1:10",
    "handle",
    "10:",
    "pfifo",
    "limit",
    String(d.queuePackets ?? 1000),
  ]);
  tc(netns, ["class", "add", "dev", dev, "parent", "1:", "classid", "1:20", "htb", "rate", "10gbit"]);
  tc(netns, ["qdisc", "add", "dev", dev, "parent", "1:20", "handle", "20:", "pfifo", "limit", "0"]);
  tc(netns, [
    "filter",
    "add",
    "dev",
    dev,
    "parent",
    "1:",
    "protocol",
    "ip",
    "prio",
    "1",
    "bpf",
    "bytecode",
    lossProgram(d.lossPercent ?? 0),
  ]);
}

/** Applies `s` to tap0 in `netns` (replacing any earlier shaping). Root only. */
export function shapeTap(netns: string, s: Shaping): void {
  unshapeTap(netns);
  tree(netns, "tap0", s.toGuest ?? {});
  execFileSync(
    "ip",
    ["netns", "exec", netns, "sh", "-c", "ip link add ifb0 type ifb && ip link set ifb0 up"],
    {
      stdio: "pipe",
    },
  );
  tree(netns, "ifb0", s.fromGuest ?? {});
  tc(netns, ["qdisc", "add", "dev", "tap0", "handle", "ffff:", "ingress"]);
  tc(netns, [
    "filter",
    "add",
    "dev",
    "tap0",
    "parent",
    "ffff:",
    "protocol",
    "all",
    "u32",
    "match",
    "u32",
    "0",
    "0",
    "action",
    "mirred",
    "egress",
    "redirect",
    "dev",
    "ifb0",
  ]);
}

/** Removes the shaping: tap0 back to its default queue, ifb0 deleted. */
export function unshapeTap(netns: string): void {
  execFileSync(
    "ip",
    [
      "netns",
      "exec",
      netns,
      "sh",
      "-c",
      "tc qdisc del dev tap0 root 2>/dev/null; tc qdisc del dev tap0 ingress 2>/dev/null; ip link del ifb0 2>/dev/null; true",
    ],
    { stdio: "pipe" },
  );
}

interface TcQdiscJSON {
  kind: string;
  handle: string;
  packets?: number;
  drops?: number;
}

function directionStats(netns: string, dev: string): DirectionStats {
  const qdiscs = JSON.parse(tc(netns, ["-s", "-j", "qdisc", "show", "dev", dev])) as TcQdiscJSON[];
  const q = (handle: string) => qdiscs.find((x) => x.handle === handle);
  return { lost: q("20:")?.drops ?? 0, overflow: q("10:")?.drops ?? 0, sent: q("10:")?.packets ?? 0 };
}

/** What the shaping did so far, each way. */
export function shapingStats(netns: string): { toGuest: DirectionStats; fromGuest: DirectionStats } {
  return { toGuest: directionStats(netns, "tap0"), fromGuest: directionStats(netns, "ifb0") };
}
