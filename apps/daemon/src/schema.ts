/**
 * The control protocol's request parameters as zod schemas, one per method: the daemon checks
 * every request against them before a handler runs, and `controlJSONSchema()` gives the same
 * rules as JSON Schema to clients in other languages. The TypeScript types of
 * `@tipcjs/client`'s protocol.ts are the reference; `satisfies` below keeps the two together.
 */
import {
  MAX_RECEIVE_WINDOW,
  MAX_SOCKET_RCVBUF,
  METHODS,
  type Method,
  type MethodParams,
  type ProtocolErrorCode,
} from "@tipcjs/client";
import { z } from "zod";

/** A request the daemon refuses: answered with `{ error: { code, message } }`. */
export class ProtocolError extends Error {
  override readonly name = "ProtocolError";
  readonly code: ProtocolErrorCode;
  constructor(code: ProtocolErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

export function isProtocolError(e: unknown): e is ProtocolError {
  return (
    e instanceof ProtocolError ||
    (typeof e === "object" && e !== null && (e as { name?: unknown }).name === "ProtocolError" && "code" in e)
  );
}

const U32 = "must be an integer 0..4294967295";
const u32 = z
  .number({ error: U32 })
  .int({ error: U32 })
  .min(0, { error: U32 })
  .max(0xffffffff, { error: U32 });
const oneOf = <const T extends readonly [string, ...string[]]>(values: T) =>
  z.enum(values, { error: `must be one of ${values.join(", ")}` });
const bool = z.boolean({ error: "must be true or false" });
const name = z.string({ error: "must be a name" }).min(1, { error: "must be a name" });
const none = z.object({});
const scope = oneOf(["cluster", "node"]);
const importance = z.union([z.literal(0), z.literal(1), z.literal(2), z.literal(3)], {
  error: "must be an importance 0 (LOW) .. 3 (CRITICAL)",
});
const socket = u32;
const connType = oneOf(["stream", "seqpacket"]);

/** lower <= upper (upper defaults to lower), with the message every tool prints */
const ordered = (v: { lower: number; upper?: number | undefined }, ctx: z.RefinementCtx) => {
  if (v.upper !== undefined && v.lower > v.upper)
    ctx.addIssue({
      code: "custom",
      message: `lower (${v.lower}) is greater than upper (${v.upper})`,
      path: [],
    });
};

const sendOptions = { importance: importance.optional(), dontWait: bool.optional() };
const serviceRange = { type: u32, lower: u32, upper: u32.optional() };

export const PARAM_SCHEMAS = {
  hello: none,
  bind: z
    .object({
      ...serviceRange,
      scope: scope.optional(),
      port: u32.optional(),
      owner: oneOf(["connection", "daemon"]).optional(),
    })
    .superRefine(ordered),
  unbind: z.object({ ...serviceRange, key: u32.optional() }).superRefine(ordered),
  lookup: z
    .object({
      ...serviceRange,
      mode: oneOf(["anycast", "closest", "node", "instance", "multicast", "nodes"]).optional(),
      node: u32.optional(),
    })
    .superRefine(ordered)
    .superRefine((v, ctx) => {
      if (v.mode === "node" && v.node === undefined)
        ctx.addIssue({ code: "custom", message: "is required for mode node", path: ["node"] });
    }),
  bindings: z.object({ type: u32.optional(), own: bool.optional() }),
  subscribe: z
    .object({
      type: u32,
      lower: u32,
      upper: u32,
      mode: oneOf(["ports", "service"]).optional(),
      timeout: u32.optional(),
      initialEvents: bool.optional(),
    })
    .superRefine(ordered),
  unsubscribe: z.object({ subscription: u32 }),
  nodes: none,
  links: none,
  bearers: none,
  bearerDisable: z.object({ name }),
  bearerEnable: z.object({ name }),
  stats: none,
  linkStats: z.object({ link: name.optional() }),
  linkStatsReset: z.object({ link: name.optional() }),
  linkGet: none,
  // the key methods check their own params (key-control.ts): a key must never be echoed back
  keySet: z.record(z.string(), z.unknown()),
  keyFlush: none,
  keyStatus: none,
  linkSet: z.object({
    property: oneOf(["tolerance", "priority", "window"]),
    value: u32,
    link: name.optional(),
  }),
  peerAdd: z.object({ bearer: name, ip: z.string({ error: "must be an IP address" }), port: u32.optional() }),
  peerRemove: z.object({
    address: u32.optional(),
    identity: name.optional(),
    ip: z.string({ error: "must be an IP address" }).optional(),
    port: u32.optional(),
  }),
  socketOpen: z.object({
    type: oneOf(["rdm", "dgram"]),
    importance: importance.optional(),
    destDroppable: bool.optional(),
    rcvbuf: u32
      .min(1, { error: `must be 1..${MAX_SOCKET_RCVBUF}` })
      .max(MAX_SOCKET_RCVBUF, { error: `must be 1..${MAX_SOCKET_RCVBUF}` })
      .optional(),
    multicastMethod: oneOf(["broadcast", "replicast"]).optional(),
    window: u32
      .min(1, { error: `must be 1..${MAX_RECEIVE_WINDOW}` })
      .max(MAX_RECEIVE_WINDOW, { error: `must be 1..${MAX_RECEIVE_WINDOW}` })
      .optional(),
  }),
  socketCredit: z.object({ socket, bytes: u32 }),
  socketBind: z.object({ socket, ...serviceRange, scope: scope.optional() }).superRefine(ordered),
  socketUnbind: z.object({ socket, ...serviceRange, scope: scope.optional() }).superRefine(ordered),
  socketSendTo: z.object({ socket, type: u32, instance: u32, node: u32.optional(), ...sendOptions }),
  socketSendToSocket: z.object({ socket, node: u32, port: u32, ...sendOptions }),
  socketSendToRange: z
    .object({ socket, type: u32, lower: u32, upper: u32, ...sendOptions })
    .superRefine(ordered),
  socketSet: z.object({
    socket,
    importance: importance.optional(),
    destDroppable: bool.optional(),
    multicastMethod: oneOf(["broadcast", "replicast", "auto"]).optional(),
  }),
  socketInfo: z.object({ socket }),
  socketClose: z.object({ socket }),
  connect: z
    .object({
      type: u32.optional(),
      instance: u32.optional(),
      node: u32.optional(),
      port: u32.optional(),
      connType: connType.optional(),
      connectTimeout: z
        .number({ error: "must be 1..600000 (ms)" })
        .int({ error: "must be 1..600000 (ms)" })
        .min(1, { error: "must be 1..600000 (ms)" })
        .max(600_000, { error: "must be 1..600000 (ms)" })
        .optional(),
      nodelay: bool.optional(),
    })
    .superRefine((v, ctx) => {
      const service = v.type !== undefined || v.instance !== undefined;
      const socketAddr = v.port !== undefined;
      if (service === socketAddr || (service && (v.type === undefined || v.instance === undefined)))
        ctx.addIssue({
          code: "custom",
          message: "connect takes a service address (type, instance, node?) or a socket address (node, port)",
          path: [],
        });
      else if (socketAddr && v.node === undefined)
        ctx.addIssue({ code: "custom", message: "a socket address needs node and port", path: [] });
    }) as unknown as z.ZodType<MethodParams["connect"]>,
  accept: z.object({ connection: u32 }),
  listen: z
    .object({ ...serviceRange, scope: scope.optional(), connType: connType.optional() })
    .superRefine(ordered),
  listenClose: z.object({ listener: u32 }),
} satisfies { [M in Method]: z.ZodType<MethodParams[M]> };

/** Methods whose request carries a payload (`bytes` and the raw data after the line). */
export const PAYLOAD_METHODS: ReadonlySet<Method> = new Set([
  "socketSendTo",
  "socketSendToSocket",
  "socketSendToRange",
]);

export type Params<M extends Method> = z.output<(typeof PARAM_SCHEMAS)[M]>;

/**
 * The request's params checked against its method's schema: the typed params, or ProtocolError
 * BAD_ARGUMENT naming the first bad parameter, what it must be and what it was.
 */
export function parseParams<M extends Method>(method: M, params: unknown): Params<M> {
  const schema = PARAM_SCHEMAS[method] as z.ZodType;
  const r = schema.safeParse(params, { reportInput: true });
  if (r.success) return r.data as Params<M>;
  const issue = r.error.issues[0] as z.core.$ZodIssue;
  if (issue.path.length === 0) throw new ProtocolError("BAD_ARGUMENT", issue.message);
  const where = `params.${issue.path.join(".")}`;
  // a refinement's message is whole (its input is the object, not the parameter)
  if (issue.code === "custom") throw new ProtocolError("BAD_ARGUMENT", `${where} ${issue.message}`);
  const input = (issue as { input?: unknown }).input;
  if (input === undefined) throw new ProtocolError("BAD_ARGUMENT", `${where} is required`);
  throw new ProtocolError("BAD_ARGUMENT", `${where} ${issue.message}, got ${JSON.stringify(input)}`);
}

/** The params of every method as JSON Schema (draft 2020-12), for clients in other languages. */
export function controlJSONSchema(): Record<Method, unknown> {
  const out = {} as Record<Method, unknown>;
  for (const m of METHODS)
    out[m] = z.toJSONSchema(PARAM_SCHEMAS[m] as z.ZodType, { io: "input", unrepresentable: "any" });
  return out;
}
