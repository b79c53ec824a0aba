import { describe, expect, it } from "vitest";
import { isNameTableError, NameTable, NameTableError } from "./index.js";

describe("isNameTableError", () => {
  it("recognises what the table throws, by class or (for another copy of the package) by name and code", () => {
    let thrown: unknown;
    try {
      new NameTable({ ownNode: 1 }).lookupAnycast(-1, 0);
    } catch (e) {
      thrown = e;
    }
    expect(isNameTableError(thrown)).toBe(true);
    expect(thrown).toMatchObject({ name: "NameTableError", code: "NOT_U32", field: "type" });
    expect(isNameTableError(new NameTableError("BAD_ARGUMENT", "x"))).toBe(true);
    expect(isNameTableError({ name: "NameTableError", code: "NOT_U32", message: "from another copy" })).toBe(
      true,
    );
  });

  it("refuses anything else", () => {
    for (const e of [
      new Error("NOT_U32"),
      { name: "NameTableError" },
      { name: "NodeError", code: "BAD_ARGUMENT" },
      "NameTableError",
      null,
      undefined,
    ]) {
      expect(isNameTableError(e)).toBe(false);
    }
  });

  it("keeps codes out of the message text", () => {
    try {
      new NameTable({ ownNode: 1 }).insert({
        type: 1,
        lower: 2,
        upper: 1,
        scope: "node",
        node: 1,
        port: 1,
        key: 1,
      });
      expect.unreachable();
    } catch (e) {
      expect(isNameTableError(e)).toBe(true);
      const { code, message } = e as NameTableError;
      expect(code).toBe("LOWER_ABOVE_UPPER");
      expect(message).not.toContain(code);
    }
  });
});
