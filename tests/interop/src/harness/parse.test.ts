import { describe, expect, it } from "vitest";
import { findLinkTo, parseLinkList, parseNameTable, parseNodeList } from "./parse.js";

// Output of iproute2 6.1's tipc in the guest, as it reached the serial console.
const NAMETABLE = `Type       Lower      Upper      Scope    Port       Node                             
0          323249523  323249523  cluster  0          guest1
1          1          1          node     3678777594 guest1
2          403314182  403314182  node     0          guest1
2000       5          5          cluster  12345      hostpeer
1000       1          10         cluster  2396154093 guest1`;

describe("tipc output parsers", () => {
  it("parses tipc nametable show into one entry per row", () => {
    const rows = parseNameTable(NAMETABLE);
    expect(rows).toHaveLength(5);
    expect(rows[0]).toEqual({
      type: 0,
      lower: 323249523,
      upper: 323249523,
      scope: "cluster",
      port: 0,
      node: "guest1",
    });
    expect(rows[3]).toEqual({
      type: 2000,
      lower: 5,
      upper: 5,
      scope: "cluster",
      port: 12345,
      node: "hostpeer",
    });
    expect(rows[4]?.port).toBe(2396154093);
    expect(parseNameTable("Type       Lower      Upper      Scope    Port       Node")).toEqual([]);
  });

  it("parses tipc link list and finds the link to a peer", () => {
    const links = parseLinkList(
      "broadcast-link: up\nguest1:b1-hostpeer:hb0: up\nguest1:b1-other-peer:x: down\n",
    );
    expect(links).toEqual([
      { name: "broadcast-link", state: "up", broadcast: true },
      { name: "guest1:b1-hostpeer:hb0", state: "up", broadcast: false },
      { name: "guest1:b1-other-peer:x", state: "down", broadcast: false },
    ]);
    expect(findLinkTo(links, "hostpeer")?.state).toBe("up");
    expect(findLinkTo(links, "other-peer")?.state).toBe("down");
    expect(findLinkTo(links, "nobody")).toBeUndefined();
  });

  it("parses tipc node list", () => {
    const nodes = parseNodeList(
      "Node Identity                    Hash     State\nhostpeer                         180a1606 up\nguest2   0a00020f down\n",
    );
    expect(nodes).toEqual([
      { identity: "hostpeer", address: 0x180a1606, state: "up" },
      { identity: "guest2", address: 0x0a00020f, state: "down" },
    ]);
    expect(parseNodeList("Node Identity                    Hash     State\n")).toEqual([]);
    // tipc node get identity: no state column
    expect(
      parseNodeList("Node Identity                    Hash\nselftest                         00000000\n"),
    ).toEqual([{ identity: "selftest", address: 0, state: "" }]);
  });
});
