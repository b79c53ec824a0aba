export { NameTableError, type NameTableErrorCode } from "./errors.js";
export {
  DEFAULT_MAX_BINDINGS,
  MAX_BINDINGS_LIMIT,
  NameTable,
  TIPC_MAX_SUBSCR,
  TIPC_WAIT_FOREVER,
} from "./name-table.js";
export type * from "./types.js";
