import { METHODS } from "@tipcjs/client";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { controlJSONSchema, isProtocolError, ProtocolError, parseParams } from "./schema.js";

const refusal = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error("accepted");
};

describe("control request schema", () => {
  it("names the bad parameter, what it must be and what it was", () => {
    const cases: [Parameters<typeof parseParams>, string][] = [
      [["bind", { type: 1000, lower: "one" }], 'params.lower must be an integer 0..4294967295, got "one"'],
      [["bind", { type: 1000, lower: 1.5 }], "params.lower must be an integer 0..4294967295, got 1.5"],
      [["bind", { type: 1000 }], "params.lower is required"],
      [["bind", { type: 1000, lower: 9, upper: 1 }], "lower (9) is greater than upper (1)"],
      [
        ["bind", { type: 1000, lower: 1, scope: "galaxy" }],
        'params.scope must be one of cluster, node, got "galaxy"',
      ],
      [["subscribe", { type: 1000, lower: 0 }], "params.upper is required"],
      [["lookup", { type: 1000, lower: 0, mode: "node" }], "params.node is required for mode node"],
      [["socketOpen", { type: "stream" }], 'params.type must be one of rdm, dgram, got "stream"'],
      [
        ["socketSendTo", { socket: 1, type: 1000, instance: 1, importance: 4 }],
        "params.importance must be an importance 0 (LOW) .. 3 (CRITICAL), got 4",
      ],
      [
        ["socketSet", { socket: 1, destDroppable: "yes" }],
        'params.destDroppable must be true or false, got "yes"',
      ],
    ];
    for (const [args, message] of cases) {
      const e = refusal(() => parseParams(...args));
      expect(e).toBeInstanceOf(ProtocolError);
      expect(isProtocolError(e) && { code: e.code, message: e.message, name: e.name }).toEqual({
        code: "BAD_ARGUMENT",
        message,
        name: "ProtocolError",
      });
    }
  });

  it("gives typed params with the optional ones left out", () => {
    expect(parseParams("socketSendToRange", { socket: 7, type: 1000, lower: 0, upper: 9, extra: 1 })).toEqual(
      {
        socket: 7,
        type: 1000,
        lower: 0,
        upper: 9,
      },
    );
  });

  it("no params of any method make it throw anything but a ProtocolError (property)", () => {
    fc.assert(
      fc.property(fc.constantFrom(...METHODS), fc.anything(), (method, params) => {
        try {
          parseParams(method, params);
        } catch (e) {
          expect(isProtocolError(e) && e.code).toBe("BAD_ARGUMENT");
        }
      }),
    );
  });

  it("exports every method's params as JSON Schema", () => {
    const schema = controlJSONSchema();
    expect(Object.keys(schema).sort()).toEqual([...METHODS].sort());
    expect(schema.socketOpen).toMatchObject({
      type: "object",
      properties: { type: { enum: ["rdm", "dgram"] } },
      required: ["type"],
    });
  });
});
