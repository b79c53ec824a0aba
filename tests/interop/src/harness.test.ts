/**
 * Self-test of the interop harness: the guest boots with the options asked for, serves
 * commands on its serial console, and tipc-binder creates and withdraws kernel bindings on
 * request; QEMU never outlives the test.
 */
import { nodeAddressFromId, nodeIdFromString } from "@tipcjs/codec";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  bootGuest,
  freeUdpPort,
  GuestCommandError,
  type KernelGuest,
  parseNodeList,
  withGuest,
} from "./harness/index.js";

function isAlive(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("interop harness (kernel guest in QEMU)", () => {
  let guest: KernelGuest;

  beforeAll(async () => {
    guest = await bootGuest({
      hostPort: await freeUdpPort(),
      identity: "selftest",
      netId: 4712,
      bindings: [{ type: 1000, lower: 1, upper: 10 }],
    });
  });

  afterAll(async () => {
    await guest?.close();
  });

  it("boots with the requested identity, network id and boot-time bindings", async () => {
    expect(guest.setupFailures).toEqual([]);
    // prints "Node Identity  Hash" and a row; the hash is the address the kernel derived
    const [row] = parseNodeList(await guest.exec("tipc node get identity"));
    expect(row?.identity).toBe("selftest");
    expect(row?.address).toBe(nodeAddressFromId(nodeIdFromString("selftest")));
    expect(Number.parseInt(await guest.exec("tipc node get address"), 16)).toBe(row?.address);
    expect((await guest.exec("tipc node get netid")).trim()).toMatch(/\b4712\b/);
    expect(await guest.exec("tipc bearer list")).toContain("udp:b1");
    const table = await guest.nameTable();
    expect(table).toContainEqual(
      expect.objectContaining({ type: 1000, lower: 1, upper: 10, scope: "cluster", node: "selftest" }),
    );
  });

  it("runs shell commands over the serial console with their output and exit code", async () => {
    const r = await guest.run("echo one; echo two >&2; exit 3");
    expect(r.code).toBe(3);
    expect(r.lines).toEqual(["one", "two"]);
    await expect(guest.exec("false")).rejects.toBeInstanceOf(GuestCommandError);
    await expect(guest.run("echo a\necho b")).rejects.toThrow(/one line/);
    // commands queue: several at once come back in order, each with its own output
    const many = await Promise.all([1, 2, 3, 4].map((i) => guest.exec(`echo n${i}`)));
    expect(many).toEqual(["n1", "n2", "n3", "n4"]);
    expect(await guest.links()).toContainEqual({ name: "broadcast-link", state: "up", broadcast: true });
    expect(await guest.nodes()).toEqual([]);
  });

  it("binds and withdraws service ranges on request, as the name table shows", async () => {
    await guest.bind({ type: 2000, lower: 5, upper: 7 });
    await guest.bind({ type: 2001, lower: 1, upper: 1 }, "node");
    let table = await guest.nameTable();
    expect(table).toContainEqual(
      expect.objectContaining({ type: 2000, lower: 5, upper: 7, scope: "cluster" }),
    );
    expect(table).toContainEqual(expect.objectContaining({ type: 2001, lower: 1, upper: 1, scope: "node" }));
    expect(await guest.exec("tipc-binder list")).toContain("2000 5 7 cluster");

    await guest.unbind({ type: 2000, lower: 5, upper: 7 });
    await guest.unbind({ type: 2001, lower: 1, upper: 1 }, "node");
    table = await guest.nameTable();
    expect(table.filter((e) => e.type === 2000 || e.type === 2001)).toEqual([]);
    // withdrawing what was never bound is an error, not a crash of the daemon
    await expect(guest.unbind({ type: 2000, lower: 5, upper: 7 })).rejects.toThrow(/No such file/);
    await expect(guest.exec("tipc-binder bind 1 2")).rejects.toThrow(/usage/);
    expect(await guest.exec("tipc-binder list")).toMatch(/ok 1$/);
  });

  it("creates more than 1,500 bindings with bindmany and withdraws them with unbindmany", async () => {
    expect(await guest.bindMany({ type: 3000, lower: 1, upper: 1 }, 2000)).toBe("ok bindmany 2000");
    const table = await guest.nameTable();
    const mine = table.filter((e) => e.type === 3000);
    expect(mine).toHaveLength(2000);
    expect(new Set(mine.map((e) => e.lower)).size).toBe(2000);
    expect(Math.min(...mine.map((e) => e.lower))).toBe(1);
    expect(Math.max(...mine.map((e) => e.upper))).toBe(2000);

    // ranges wider than one instance step by their width
    expect(await guest.bindMany({ type: 3001, lower: 10, upper: 19 }, 3)).toBe("ok bindmany 3");
    expect((await guest.exec("tipc nametable show | grep -c '^3001 '")).trim()).toBe("3");
    expect(await guest.exec("tipc nametable show | grep '^3001 ' | awk '{print $2\"-\"$3}' | sort -n")).toBe(
      "10-19\n20-29\n30-39",
    );

    expect(await guest.unbindMany({ type: 3000, lower: 1, upper: 1 }, 2000)).toBe("ok unbindmany 2000");
    expect(await guest.exec("tipc-binder unbindall")).toBe("ok unbindall 4");
    const after = await guest.nameTable();
    expect(after.filter((e) => e.type >= 1000)).toEqual([]);
  });

  it("kills QEMU on close", async () => {
    const pid = guest.pid;
    expect(isAlive(pid)).toBe(true);
    await guest.close();
    expect(isAlive(pid)).toBe(false);
    await expect(guest.run("true")).rejects.toThrow(/exited/);
  });

  it("boots without a bearer when asked, and kills QEMU when the test body throws", async () => {
    let pid: number | undefined;
    const body = withGuest({ hostPort: await freeUdpPort(), enableBearer: false }, async (g) => {
      pid = g.pid;
      expect((await g.exec("tipc bearer list")).trim()).toBe("");
      await g.enableBearer();
      expect(await g.exec("tipc bearer list")).toContain("udp:b1");
      throw new Error("test body failed");
    });
    await expect(body).rejects.toThrow("test body failed");
    expect(pid).toBeTypeOf("number");
    expect(isAlive(pid)).toBe(false);
  });
});
