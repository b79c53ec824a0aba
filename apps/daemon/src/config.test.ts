import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig, parseHostPort, validateConfig } from "./config.js";

const base = { nodeId: "n1", bearer: { localAddress: "127.0.0.1" } };

function problems(raw: unknown): string[] {
  try {
    validateConfig(raw);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).issues;
  }
  throw new Error("expected a ConfigError");
}

describe("tipcd configuration", () => {
  it("fills defaults", () => {
    const c = validateConfig(base);
    expect(c).toMatchObject({
      nodeId: "n1",
      clusterId: 4711,
      legacy: false,
      tolerance: 1500,
      bearer: { name: "udp0", localAddress: "127.0.0.1", localPort: 6118, peers: [] },
      control: { path: "/run/tipcd/tipcd.sock", mode: 0o600 },
      metrics: {},
      log: { level: "info" },
    });
  });

  it("takes several bearers from a list, named udp0, udp1... unless named", () => {
    const c = validateConfig({
      nodeId: "n1",
      bearers: [
        { localAddress: "127.0.0.1" },
        { name: "lan1", localAddress: "127.0.0.2", peers: ["127.0.0.3"] },
      ],
    });
    expect(c.bearers.map((b) => [b.name, b.localAddress, b.peers])).toEqual([
      ["udp0", "127.0.0.1", []],
      ["lan1", "127.0.0.2", ["127.0.0.3"]],
    ]);
    expect(c.bearer.name).toBe("udp0");
    expect(validateConfig(base).bearers).toHaveLength(1);
    // from a file, with the environment and flags giving no bearer setting
    const dir = mkdtempSync(join(tmpdir(), "tipcd-config-"));
    const file = join(dir, "two.yaml");
    writeFileSync(file, "nodeId: n2\nbearers:\n  - localAddress: 127.0.0.1\n  - localAddress: 127.0.0.2\n");
    expect(loadConfig({ config: file }, {}).bearers.map((b) => b.name)).toEqual(["udp0", "udp1"]);
    expect(problems({ ...base, bearers: [{ localAddress: "127.0.0.1" }] })).toEqual([
      "bearers: give bearer (one) or bearers (a list), not both",
    ]);
    expect(
      problems({
        nodeId: "n",
        bearers: [{ localAddress: "127.0.0.1" }, { name: "udp0", localAddress: "127.0.0.2" }],
      }),
    ).toEqual(["bearers.1.name: bearer name udp0 is used twice"]);
    expect(problems({ nodeId: "n", bearers: [] })).toEqual([
      "bearers: bearers must list at least one bearer",
    ]);
    expect(problems({ nodeId: "n", bearers: [{ localAddress: "nope" }] })[0]).toMatch(
      /^bearers\.0\.localAddress: /,
    );
    expect(problems({ nodeId: "n", bearers: Array(4).fill({ localAddress: "127.0.0.1" }) })).toEqual([
      "bearers: at most 3 bearers",
    ]);
  });

  it("merges file < environment < flags", () => {
    const dir = mkdtempSync(join(tmpdir(), "tipcd-config-"));
    const file = join(dir, "tipcd.yaml");
    writeFileSync(
      file,
      "nodeId: from-file\nclusterId: 11\ntolerance: 900\nbearer:\n  localAddress: 127.0.0.1\n  localPort: 7000\n  peers: [127.0.0.2]\ncontrol:\n  mode: '0660'\n",
    );
    const c = loadConfig(
      { config: file, nodeId: "from-flag", peer: ["127.0.0.3:7001", "127.0.0.4"] },
      { TIPCD_NODE_ID: "from-env", TIPCD_CLUSTER_ID: "12", TIPCD_LOCAL_PORT: "7002", TIPCD_LEGACY: "yes" },
    );
    expect(c.nodeId).toBe("from-flag");
    expect(c.clusterId).toBe(12);
    expect(c.tolerance).toBe(900);
    expect(c.legacy).toBe(true);
    expect(c.bearer.localPort).toBe(7002);
    expect(c.bearer.peers).toEqual(["127.0.0.3:7001", "127.0.0.4"]);
    expect(c.control.mode).toBe(0o660);
  });

  it("reads JSON files and TIPCD_CONFIG", () => {
    const dir = mkdtempSync(join(tmpdir(), "tipcd-config-"));
    const file = join(dir, "tipcd.json");
    writeFileSync(file, JSON.stringify({ ...base, metrics: { address: "127.0.0.1:9464" } }));
    expect(loadConfig({}, { TIPCD_CONFIG: file }).metrics.address).toBe("127.0.0.1:9464");
    writeFileSync(file, "{ not json");
    expect(() => loadConfig({ config: file }, {})).toThrow(/not valid JSON/);
    expect(() => loadConfig({ config: join(dir, "missing.yaml") }, {})).toThrow(/cannot read config file/);
  });

  it("names every invalid field", () => {
    expect(problems({})).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^nodeId: nodeId is required/),
        expect.stringMatching(/^bearer: /),
      ]),
    );
    expect(problems({ ...base, nodeId: "x".repeat(17) })).toEqual([
      "nodeId: nodeId must be up to 16 characters, or 17..32 hex digits",
    ]);
    expect(problems({ ...base, clusterId: 0 })).toEqual(["clusterId: clusterId must be 1..9999"]);
    expect(problems({ ...base, clusterId: "10000" })).toEqual(["clusterId: clusterId must be 1..9999"]);
    expect(problems({ ...base, clusterId: "abc" })).toEqual(["clusterId: clusterId must be a number"]);
    expect(problems({ ...base, tolerance: 10 })).toEqual(["tolerance: tolerance (ms) must be 50..30000"]);
    expect(problems({ ...base, bearer: { localAddress: "host.example" } })[0]).toMatch(
      /^bearer.localAddress: must be an IPv4 or IPv6/,
    );
    expect(problems({ ...base, bearer: { localAddress: "127.0.0.1", localPort: 70000 } })).toEqual([
      "bearer.localPort: localPort must be 0..65535",
    ]);
    expect(problems({ ...base, bearer: { localAddress: "127.0.0.1", peers: ["nope"] } })[0]).toMatch(
      /peer "nope" is not/,
    );
    expect(problems({ ...base, bearer: { localAddress: "127.0.0.1", peers: ["::1"] } })[0]).toMatch(
      /not of localAddress's IP family/,
    );
    expect(
      problems({
        ...base,
        bearer: { localAddress: "127.0.0.1", mode: "multicast", peers: ["127.0.0.2"] },
      })[0],
    ).toMatch(/peers are for replicast/);
    expect(problems({ ...base, bearer: { localAddress: "127.0.0.1", group: "10.0.0.1" } })[0]).toMatch(
      /multicast address/,
    );
    // multicast by the codec's isMulticastAddress: 224.0.0.0/4 and ff00::/8, a zone aside
    expect(
      validateConfig({ ...base, bearer: { localAddress: "127.0.0.1", group: "239.255.0.1" } }).bearer,
    ).toMatchObject({ group: "239.255.0.1" });
    expect(problems({ ...base, bearer: { localAddress: "127.0.0.1", group: "240.0.0.1" } })[0]).toMatch(
      /group must be a multicast address/,
    );
    expect(
      validateConfig({ ...base, bearer: { localAddress: "::1", group: "ff02::1%lo" } }).bearer,
    ).toMatchObject({
      group: "ff02::1%lo",
    });
    expect(problems({ ...base, bearer: { localAddress: "::1", group: "ff::1" } })[0]).toMatch(
      /group must be a multicast address/,
    );
    expect(problems({ ...base, bearer: { localAddress: "224.0.0.1" } })[0]).toMatch(
      /localAddress must be a unicast address/,
    );
    expect(problems({ ...base, bearer: { localAddress: "127.0.0.1", mode: "broadcast" } })[0]).toMatch(
      /mode must be/,
    );
    expect(problems({ ...base, metrics: { address: "0.0.0.0:9464" } })[0]).toMatch(
      /must be a loopback address/,
    );
    expect(problems({ ...base, metrics: { address: "10.1.2.3:80" } })[0]).toMatch(
      /must be a loopback address/,
    );
    expect(problems({ ...base, metrics: { address: "127.0.0.1" } })[0]).toMatch(/must be "ip:port"/);
    expect(problems({ ...base, log: { level: "loud" } })[0]).toMatch(/^log.level: log level must be one of/);
    expect(problems({ ...base, control: { mode: "rw" } })[0]).toMatch(/octal/);
    expect(problems({ ...base, colour: "blue" })).toEqual(["unknown key(s) colour"]);
    expect(problems({ ...base, legacy: "maybe" })).toEqual(["legacy: must be true or false"]);
  });

  it("rejects prototype keys, non-decimal ports, unusable local addresses, a zero node id, a long socket path", () => {
    // a "__proto__" key in a file: JSON.parse makes it an own key, the old merge used it as a prototype
    const dir = mkdtempSync(join(tmpdir(), "tipcd-config-"));
    const file = join(dir, "proto.json");
    writeFileSync(file, `{"nodeId":"n1","__proto__":{"bearer":{"localAddress":"127.0.0.1"}}}`);
    expect(() => loadConfig({ config: file }, {})).toThrow(ConfigError);
    expect(() => loadConfig({ config: file }, {})).toThrow(/__proto__: key not allowed/);
    writeFileSync(
      join(dir, "nested.yaml"),
      "nodeId: n1\nbearer:\n  localAddress: 127.0.0.1\n  __proto__: { localPort: 7 }\n",
    );
    expect(() => loadConfig({ config: join(dir, "nested.yaml") }, {})).toThrow(
      /bearer.__proto__: key not allowed/,
    );
    expect(
      problems(
        JSON.parse(`{"nodeId":"n1","bearer":{"localAddress":"127.0.0.1"},"__proto__":{"legacy":true}}`),
      ),
    ).toEqual(["unknown key(s) __proto__"]);

    expect(problems({ ...base, metrics: { address: "localhost:99999" } })[0]).toMatch(
      /^metrics.address: metrics address must be "ip:port"/,
    );
    expect(problems({ ...base, bearer: { localAddress: "127.0.0.1", localPort: "0x10" } })).toEqual([
      "bearer.localPort: localPort must be a number",
    ]);
    expect(problems({ ...base, bearer: { localAddress: "127.0.0.1", localPort: "1e3" } })).toEqual([
      "bearer.localPort: localPort must be a number",
    ]);
    expect(problems({ ...base, clusterId: "0x10" })).toEqual(["clusterId: clusterId must be a number"]);
    expect(() =>
      loadConfig({ nodeId: "n1", localAddress: "127.0.0.1" }, { TIPCD_LOCAL_PORT: "1e3" }),
    ).toThrow(/bearer.localPort: localPort must be a number/);
    expect(
      validateConfig({ ...base, bearer: { localAddress: "127.0.0.1", localPort: " 7000 " } }).bearer
        .localPort,
    ).toBe(7000);

    for (const localAddress of ["0.0.0.0", "::", "255.255.255.255"]) {
      expect(problems({ ...base, bearer: { localAddress } })[0]).toMatch(
        /^bearer.localAddress: localAddress must be an address of this host/,
      );
    }
    for (const localAddress of ["228.0.18.103", "ff02::1"]) {
      expect(problems({ ...base, bearer: { localAddress } })[0]).toMatch(
        /^bearer.localAddress: localAddress must be a unicast address/,
      );
    }

    expect(problems({ ...base, nodeId: "0".repeat(32) })).toEqual([
      "nodeId: nodeId must not be all zero (no address derives from it)",
    ]);
    expect(problems({ ...base, nodeId: "0".repeat(17) })[0]).toMatch(/^nodeId: nodeId must not be all zero/);
    expect(problems({ ...base, nodeId: "\u0000" })[0]).toMatch(/^nodeId: nodeId must not be all zero/);

    const long = `/tmp/${"a".repeat(100)}/tipcd.sock`;
    expect(problems({ ...base, control: { path: long } })).toEqual([
      `control.path: control socket path is ${long.length} bytes; a Unix socket path takes at most 107`,
    ]);
    expect(validateConfig({ ...base, control: { path: `/${"a".repeat(106)}` } }).control.path).toHaveLength(
      107,
    );
  });

  it("takes configuredPeersOnly from the file, TIPCD_CONFIGURED_PEERS_ONLY or --configured-peers-only", () => {
    const peer = { localAddress: "127.0.0.1", peers: ["127.0.0.2"] };
    expect(validateConfig({ ...base, bearer: peer }).bearer.configuredPeersOnly).toBe(false);
    expect(
      validateConfig({ ...base, bearer: { ...peer, configuredPeersOnly: true } }).bearer.configuredPeersOnly,
    ).toBe(true);
    const flags = { nodeId: "n1", localAddress: "127.0.0.1", peer: ["127.0.0.2"] };
    expect(loadConfig(flags, { TIPCD_CONFIGURED_PEERS_ONLY: "yes" }).bearer.configuredPeersOnly).toBe(true);
    expect(loadConfig({ ...flags, configuredPeersOnly: true }, {}).bearer.configuredPeersOnly).toBe(true);
    expect(problems({ ...base, bearer: { localAddress: "127.0.0.1", configuredPeersOnly: true } })).toEqual([
      "bearer.configuredPeersOnly: configuredPeersOnly is for replicast; multicast mode learns no peers",
    ]);
  });

  it("accepts loopback metrics addresses and IPv6 bearers", () => {
    expect(validateConfig({ ...base, metrics: { address: "[::1]:9464" } }).metrics.address).toBe(
      "[::1]:9464",
    );
    expect(validateConfig({ ...base, metrics: { address: "localhost:9464" } }).metrics.address).toBe(
      "localhost:9464",
    );
    const v6 = validateConfig({ nodeId: "n", bearer: { localAddress: "::1", peers: ["[::1]:7000"] } });
    expect(v6.bearer.peers).toEqual(["[::1]:7000"]);
  });

  it("parses host:port forms", () => {
    expect(parseHostPort("127.0.0.1")).toEqual({ address: "127.0.0.1" });
    expect(parseHostPort("127.0.0.1:6118")).toEqual({ address: "127.0.0.1", port: 6118 });
    expect(parseHostPort("[fd00::1]:6118")).toEqual({ address: "fd00::1", port: 6118 });
    expect(parseHostPort("fd00::1")).toEqual({ address: "fd00::1" });
    expect(parseHostPort("127.0.0.1:99999")).toBeUndefined();
    expect(parseHostPort("name:1")).toBeUndefined();
  });
});
