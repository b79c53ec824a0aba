export { isNameTableError, NameTableError, type NameTableErrorCode } from "./errors.js";
export { DEFAULT_MAX_BINDINGS, NameTable } from "./name-table.js";
export { MAX_BINDINGS_LIMIT } from "./records.js";
export { TIPC_MAX_SUBSCR, TIPC_WAIT_FOREVER } from "./subscriptions.js";
export type * from "./types.js";
