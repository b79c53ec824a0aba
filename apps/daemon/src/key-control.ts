/**
 * The control-socket methods behind `tipcctl node set key` / `flush key` / `key`: key slots are
 * shown by their hint (5 bytes of the key, as the kernel prints it), never by their bytes.
 */
import type { KeyStatusJSON } from "@tipcjs/client";
import { NodeError, type TipcNode } from "@tipcjs/node";

type Params = Record<string, unknown>;

const str = (p: Params, name: string): string | undefined => {
  const v = p[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string" || v.length === 0 || v.length > 256)
    throw new NodeError("BAD_ARGUMENT", `params.${name} must be a string of 1..256 characters`);
  return v;
};

/** The control methods keySet, keyFlush and keyStatus, spread into the control server's handlers. */
export function keyHandlers(node: TipcNode) {
  return {
    keySet: (_c: unknown, p: Params) => {
      const rekeying = p.rekeying;
      if (rekeying !== undefined) {
        if (
          rekeying !== "now" &&
          !(typeof rekeying === "number" && Number.isInteger(rekeying) && rekeying >= 0)
        )
          throw new NodeError("BAD_ARGUMENT", "params.rekeying must be minutes (0 = off) or now");
        node.setRekeying(rekeying as number | "now");
        return { rekeying: rekeying as number | "now" };
      }
      const key = str(p, "key");
      if (key === undefined) throw new NodeError("BAD_ARGUMENT", "params.key is required");
      const algorithm = str(p, "algname");
      const nodeId = str(p, "nodeid");
      if (p.master !== undefined && typeof p.master !== "boolean")
        throw new NodeError("BAD_ARGUMENT", "params.master must be true or false");
      const slot = node.setKey({
        key,
        ...(algorithm !== undefined ? { algorithm } : {}),
        ...(nodeId !== undefined ? { nodeId } : {}),
        ...(p.master === true ? { master: true } : {}),
      });
      return { slot };
    },
    keyFlush: () => {
      node.flushKeys();
      return {};
    },
    keyStatus: (): KeyStatusJSON => {
      const s = node.cryptoStatus();
      if (s === undefined) return { enabled: false };
      return {
        enabled: true,
        refusePlaintext: s.refusePlaintext,
        tx: s.keys.tx,
        peers: s.keys.peers.map((x) => ({
          address: x.addr,
          ...(x.nodeId !== undefined ? { nodeId: x.nodeId } : {}),
          keys: x.keys,
        })),
        counters: { tx: { ...s.stats.tx }, rx: { ...s.stats.rx } },
        drops: node.stats().drops.crypto,
      };
    },
  };
}
