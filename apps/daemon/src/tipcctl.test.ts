import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DISTRIBUTOR_DROP_CAUSES } from "@tipcjs/distributor";
import { LINK_DROP_CAUSES } from "@tipcjs/link";
import { NODE_TRANSPORT_DROP_CAUSES } from "@tipcjs/node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createMetricsRegistry, startMetricsServer } from "./metrics.js";
import { type Fixture, runCtlIn, startFixture, waitFor } from "./test-helpers.js";
import { EXIT, runCtl } from "./tipcctl.js";

let fx: Fixture;
beforeAll(async () => {
  fx = await startFixture(2);
});
afterAll(async () => {
  await fx.close();
});

async function ctl(...args: string[]) {
  return ctlIO(args, "");
}

/** tipcctl with this stdin, until done or `interrupted` */
function ctlIO(args: string[], stdin: string, interrupted?: Promise<void>) {
  return runCtlIn(fx.path, args, stdin, interrupted);
}

describe("tipcctl", () => {
  it("publishes (held by the daemon after tipcctl exits), shows the table, looks up and withdraws", async () => {
    const p = await ctl("publish", "1000", "1", "10", "--port", "42");
    expect(p).toMatchObject({ code: EXIT.OK, err: "" });
    expect(p.out).toMatch(/^\{1000, 1, 10\} scope cluster port 42 key \d+ owner daemon\n$/);
    // the CLI's connection is closed; the binding stays, and reaches the peer
    const [a, b] = fx.nodes;
    await waitFor(() => b?.lookupAnycast(1000, 5) !== undefined, 3000, "peer sees the binding");
    expect(a?.lookupAnycast(1000, 5)).toEqual({ node: a?.address, port: 42 });

    const show = await ctl("nametable", "show");
    expect(show.code).toBe(EXIT.OK);
    const lines = show.out.trimEnd().split("\n");
    expect(lines[0]).toBe(`Type       Lower      Upper      Scope    Port       ${"Node".padEnd(33)}`);
    expect(lines).toContain(`1000       1          10         cluster  42         unit-1`);
    const j = await ctl("nametable", "show", "--json", "--type", "1000");
    expect(JSON.parse(j.out)).toEqual([
      {
        type: 1000,
        lower: 1,
        upper: 10,
        scope: "cluster",
        port: 42,
        node: "unit-1",
        address: a?.address,
        key: expect.any(Number),
      },
    ]);

    expect((await ctl("lookup", "1000", "5")).out).toBe(`<${a?.address.toString(16).padStart(8, "0")}:42>\n`);
    expect((await ctl("lookup", "1000", "50")).code).toBe(EXIT.NOT_FOUND);
    expect((await ctl("lookup", "1000", "0", "100", "--mode", "nodes")).out).toBe(
      `${a?.address.toString(16).padStart(8, "0")}\n`,
    );
    expect((await ctl("withdraw", "1000", "1", "10")).code).toBe(EXIT.OK);
    expect((await ctl("withdraw", "1000", "1", "10")).code).toBe(EXIT.NOT_FOUND);
    expect(a?.lookupAnycast(1000, 5)).toBeUndefined();
  });

  it("exits 2 on usage errors, with a clear message, and changes nothing", async () => {
    const before = fx.nodes[0]?.bindings();
    for (const args of [
      ["publish", "1000", "9", "1"],
      ["publish", "abc", "1"],
      ["publish", "1000", "-1"],
      ["publish", "1000", "4294967296"],
      ["publish", "1000", "1.5"],
      ["publish", "1000", "1", "--scope", "galaxy"],
      ["publish", "10", "1"], // reserved type: refused by the daemon as a bad argument
      ["lookup", "1000", "1", "--mode", "node"],
      ["frobnicate"],
      ["nametable"],
      ["publish"],
    ]) {
      const r = await ctl(...args);
      expect(r.code, args.join(" ")).toBe(EXIT.USAGE);
      expect(r.err, args.join(" ")).not.toBe("");
    }
    expect((await ctl("publish", "1000", "9", "1")).err).toBe(
      "tipcctl: lower (9) is greater than upper (1)\n",
    );
    expect(fx.nodes[0]?.bindings()).toEqual(before);
    expect((await ctl("--help")).code).toBe(EXIT.OK);
    expect((await ctl("publish", "--help")).out).toMatch(/--owner/);
    // subscribe ends with --sub-timeout; --timeout is the wait for each answer
    const sub = (await ctl("subscribe", "--help")).out;
    expect(sub).toMatch(/--sub-timeout/);
    expect(sub).not.toMatch(/or --timeout\)/);
    expect((await ctl("--help")).out).toMatch(/--timeout <ms> +ms to wait for tipcd .*each request/s);
  });

  it("exits 3 when it cannot connect", async () => {
    const r = await runCtl(["node", "tipcctl", "--socket", `${fx.path}.none`, "stats"], {
      out: () => {},
      err: () => {},
      env: {},
      readStdin: () => "",
      interrupted: new Promise(() => {}),
    });
    expect(r).toBe(EXIT.CONNECT);
  });

  it("lists nodes, links, bearers and stats", async () => {
    await waitFor(() => (fx.nodes[0]?.stats().nodes.up ?? 0) === 1, 3000, "link up");
    // the layouts of `tipc node list` and `tipc link list`
    const nodes = (await ctl("node", "list")).out.split("\n");
    expect(nodes[0]).toBe("Node Identity                    Hash     State");
    expect(nodes).toContain(
      `${"unit-2".padEnd(32)} ${fx.nodes[1]?.address.toString(16).padStart(8, "0")} up`,
    );
    const links = (await ctl("link", "list")).out;
    expect(links).toMatch(/^broadcast-link: up\n.+: up\n$/);
    expect(JSON.parse((await ctl("bearer", "list", "--json")).out)).toHaveLength(1);
    const s = await ctl("stats", "--json");
    expect(JSON.parse(s.out)).toMatchObject({ nodes: { up: 1 }, updates: { method: "broadcast" } });
    expect((await ctl("stats")).out).toMatch(/^updates: total \d+ broadcast/m);
  });

  it("disables and enables a bearer by name, and says when there is no such bearer", async () => {
    await waitFor(() => (fx.nodes[0]?.stats().nodes.up ?? 0) === 1, 3000, "link up");
    const off = await ctl("bearer", "disable", "udp0");
    expect(off.code).toBe(EXIT.OK);
    expect(off.out).toMatch(/^udp:udp0 .* disabled$/m);
    expect(fx.nodes[0]?.links()).toEqual([]);
    const on = await ctl("bearer", "enable", "udp0", "--json");
    expect(JSON.parse(on.out)).toMatchObject({ name: "udp0", enabled: true });
    const none = await ctl("bearer", "disable", "nope");
    expect(none.code).toBe(EXIT.NOT_FOUND);
    expect(none.err).toMatch(/no bearer "nope"/);
    await waitFor(() => (fx.nodes[0]?.stats().nodes.up ?? 0) === 1, 5000, "link up again");
  });

  it("decodes hex with @tipcjs/codec, and refuses what is not hex", async () => {
    const hex = readFileSync(
      join(
        import.meta.dirname,
        "../../../packages/codec/src/__fixtures__/link-up/015-NAME_DISTRIBUTOR-type0.hex",
      ),
      "utf8",
    ).trim();
    const r = await ctl("decode", hex);
    expect(r.code).toBe(EXIT.OK);
    expect(r.out).toMatch(/^NAME_DISTRIBUTOR/);
    expect(JSON.parse((await ctl("decode", "--json", hex)).out)).toMatchObject({ user: "NAME_DISTRIBUTOR" });
    expect((await ctl("decode", "zz")).code).toBe(EXIT.USAGE);
    expect((await ctl("decode", "00")).code).toBe(EXIT.DAEMON);
  });

  it("metrics: the node's figures in Prometheus text", async () => {
    const m = await startMetricsServer(
      createMetricsRegistry(fx.nodes[0] as never, {
        controlConnections: () => 0,
        controlDisconnects: () => ({ "slow-client": 2, "connection-limit": 0 }),
      }),
      "127.0.0.1",
      0,
    );
    try {
      const text = await (await fetch(`http://${m.address}/metrics`)).text();
      for (const name of [
        'tipcd_bindings{kind="total"}',
        'tipcd_nodes{state="up"} 1',
        "tipcd_links_up 1",
        'tipcd_updates_sent_total{method="broadcast"}',
        'tipcd_held_out_of_order{kind="now"} 0',
        "# TYPE tipcd_drops_total counter",
        "# TYPE tipcd_retransmissions_total counter",
        'tipcd_control_disconnects_total{cause="slow-client"} 2',
      ]) {
        expect(text).toContain(name);
      }
      // every drop cause the link, the distributor and the node define is a series from the first scrape
      for (const [layer, causes] of [
        ["link", LINK_DROP_CAUSES],
        ["distributor", DISTRIBUTOR_DROP_CAUSES],
        ["transport", NODE_TRANSPORT_DROP_CAUSES],
      ] as const)
        for (const cause of causes)
          expect(text).toMatch(
            new RegExp(`^tipcd_drops_total\\{layer="${layer}",cause="${cause}"\\} \\d+$`, "m"),
          );
      expect((await fetch(`http://${m.address}/nope`)).status).toBe(404);
    } finally {
      await m.close();
    }
  });
});

describe("tipcctl completion", () => {
  const script = async (shell: string) => {
    const r = await ctl("completion", shell);
    expect(r.code).toBe(EXIT.OK);
    return r.out;
  };
  /** What the bash function offers for a command line ending at the cursor. */
  function bashOffers(file: string, line: string): string[] {
    const words = line.split(" ");
    const r = spawnSync(
      "bash",
      [
        "-c",
        `source "$1"; COMP_WORDS=("\${@:2}"); COMP_CWORD=$((\${#COMP_WORDS[@]}-1)); _tipcctl; echo "\${COMPREPLY[*]}"`,
        "bash",
        file,
        ...words,
      ],
      { encoding: "utf8" },
    );
    expect(r.stderr).toBe("");
    return r.stdout.trim().split(" ");
  }

  it("bash: commands, subcommands, argument and option choices", async () => {
    const file = join(mkdtempSync(join(tmpdir(), "tipcctl-completion-")), "tipcctl.bash");
    writeFileSync(file, await script("bash"));
    // (issue 16 adds the listen verb beside link)
    expect(bashOffers(file, "tipcctl li")).toEqual(["link", "listen"]);
    expect(bashOffers(file, "tipcctl send 1000 1 --importance ")).toEqual(["0", "1", "2", "3"]);
    expect(bashOffers(file, "tipcctl link stat ")).toEqual(["show", "reset", "--help"]);
    expect(bashOffers(file, "tipcctl -j link get ")).toEqual(
      expect.arrayContaining(["tolerance", "priority", "window"]),
    );
    expect(bashOffers(file, "tipcctl lookup 1000 5 --mode ")).toEqual([
      "anycast",
      "closest",
      "node",
      "instance",
      "multicast",
      "nodes",
    ]);
    expect(bashOffers(file, "tipcctl bearer ")).toEqual(["list", "add", "disable", "enable", "--help"]);
  });

  it("zsh: the same words through compadd", async () => {
    const file = join(mkdtempSync(join(tmpdir(), "tipcctl-completion-")), "_tipcctl");
    writeFileSync(file, await script("zsh"));
    const r = spawnSync(
      "zsh",
      [
        "-f",
        "-c",
        `source "$1" 2>/dev/null; compadd() { shift; print -r -- "$*"; }
         words=(tipcctl link stat ""); CURRENT=4; _tipcctl
         words=(tipcctl lookup 1 2 --mode ""); CURRENT=6; _tipcctl`,
        "zsh",
        file,
      ],
      { encoding: "utf8" },
    );
    expect(r.error).toBeUndefined();
    expect(r.stdout).toBe("show reset --help\nanycast closest node instance multicast nodes\n");
  });
});

describe("tipcctl send and listen", () => {
  it("send: stdin whole or one message a line to {type, instance} on another node; a missing name exits 4", async () => {
    const b = fx.nodes[1] as NonNullable<(typeof fx.nodes)[1]>;
    const a = fx.nodes[0] as NonNullable<(typeof fx.nodes)[0]>;
    const s = b.socket({ type: "rdm" });
    s.bind({ type: 7100, lower: 5 });
    await waitFor(() => a.lookupAnycast(7100, 5) !== undefined, 3000, "binding seen");
    const whole = await ctlIO(["send", "7100", "5", "--wait", "0"], "hello\nworld\n");
    expect(whole).toMatchObject({ code: EXIT.OK, err: "" });
    const lines = await ctlIO(["send", "7100", "5", "--lines", "--wait", "0"], "one\r\n\ntwo\n");
    expect(lines).toMatchObject({ code: EXIT.OK, err: "" });
    const got: string[] = [];
    await waitFor(
      () => {
        for (let ev = s.tryReceive(); ev; ev = s.tryReceive())
          if (ev.kind === "message") got.push(new TextDecoder().decode(ev.data));
        return got.length >= 3;
      },
      3000,
      "messages received",
    );
    expect(got).toEqual(["hello\nworld\n", "one", "two"]);
    s.close();

    // a name whose port has no socket: the message comes back NO_NAME, reported, exit 4
    const dangling = b.publish({ type: 7101, lower: 1, upper: 1, scope: "cluster", port: 4242 });
    await waitFor(() => a.lookupAnycast(7101, 1) !== undefined, 3000, "dangling binding seen");
    const back = await ctlIO(["send", "7101", "1", "--wait", "1000"], "lost");
    expect(back.code).toBe(EXIT.NOT_FOUND);
    expect(back.err).toMatch(/a message of 4 bytes came back from <[0-9a-f]{8}:4242>: NO_NAME/);
    expect(back.err).toMatch(/1 of 1 messages not delivered/);
    b.withdraw(dangling);

    const missing = await ctlIO(["send", "7199", "1"], "x");
    expect(missing.code).toBe(EXIT.NOT_FOUND);
    expect(missing.err).toMatch(/no binding for \{7199, 1\} \(NO_SERVICE\)/);
    const tooBig = await ctlIO(["send", "7100", "5"], "x".repeat(66_001));
    expect(tooBig.code).toBe(EXIT.USAGE);
    expect(tooBig.err).toMatch(/at most 66000 bytes/);
  });

  it("listen: binds, prints what arrives (-j with its source), exits after --count; the binding goes with it", async () => {
    const a = fx.nodes[0] as NonNullable<(typeof fx.nodes)[0]>;
    const b = fx.nodes[1] as NonNullable<(typeof fx.nodes)[1]>;
    const listening = ctlIO(["-j", "listen", "7200", "0", "9", "--count", "2"], "");
    await waitFor(() => b.lookupAnycast(7200, 3) !== undefined, 3000, "listen bound");
    const s = b.socket({ type: "rdm" });
    await s.sendTo({ type: 7200, instance: 3 }, new TextEncoder().encode("ping"));
    await s.sendTo({ type: 7200, instance: 9 }, new Uint8Array([0xff, 0x00]));
    const r = await listening;
    expect(r).toMatchObject({ code: EXIT.OK, err: "" });
    const out = r.out
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(out).toEqual([
      {
        source: s.address,
        destination: { kind: "service", type: 7200, instance: 3 },
        importance: 0,
        bytes: 4,
        data: Buffer.from("ping").toString("base64"),
        text: "ping",
      },
      expect.objectContaining({ bytes: 2, data: "/wA=" }),
    ]);
    await waitFor(() => b.lookupAnycast(7200, 3) === undefined, 3000, "withdrawn after listen exits");
    expect(a.lookupAnycast(7200, 3)).toBeUndefined();

    // plain output and an interrupt
    let stop: () => void = () => {};
    const interrupted = new Promise<void>((res) => {
      stop = res;
    });
    let printed = "";
    const plain = runCtl(["node", "tipcctl", "--socket", fx.path, "listen", "7201", "1"], {
      out: (t) => {
        printed += t;
      },
      err: (t) => {
        printed += `ERR ${t}`;
      },
      env: {},
      readStdin: () => "",
      interrupted,
    });
    await waitFor(() => b.lookupAnycast(7201, 1) !== undefined, 3000, "listen bound");
    await s.sendTo({ type: 7201, instance: 1 }, new TextEncoder().encode("line one"));
    await s.sendTo({ type: 7201, instance: 1 }, new TextEncoder().encode("line two\n"));
    await waitFor(() => printed.split("\n").length >= 3, 3000, "printed");
    stop();
    expect(await plain).toBe(EXIT.OK);
    expect(printed).toBe("line one\nline two\n");
    s.close();
  });
});
