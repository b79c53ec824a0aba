import { describe, expect, it } from "vitest";
import { linkRefusalCause, NODE_TRANSPORT_DROP_CAUSES, transportErrorCause } from "./drops.js";

describe("the node's transport drop causes", () => {
  it("are kebab-case and distinct, as the link's and the distributor's are", () => {
    expect(new Set(NODE_TRANSPORT_DROP_CAUSES).size).toBe(NODE_TRANSPORT_DROP_CAUSES.length);
    for (const c of NODE_TRANSPORT_DROP_CAUSES) expect(c).toMatch(/^[a-z]+(-[a-z]+)*$/);
  });

  it("name a transport error by its code and a link refusal apart from it, each one listed", () => {
    expect(transportErrorCause("SOCKET")).toBe("socket");
    expect(transportErrorCause("BAD_DATAGRAM")).toBe("bad-datagram");
    expect(linkRefusalCause("PEER_DOWN")).toBe("link-peer-down");
    for (const c of [transportErrorCause("CLOSED"), linkRefusalCause("STOPPED")])
      expect(NODE_TRANSPORT_DROP_CAUSES).toContain(c);
  });
});
