export * from "./constants.js";
export * from "./seq.js";
export type * from "./types.js";
export { USERS } from "./types.js";
