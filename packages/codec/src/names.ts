/** Message type names per user (word 1 bits 29..31), §1.1 of the protocol brief. */
import type { UserName } from "./types.js";
import { USERS } from "./types.js";

export const DATA_TYPES = [
  "CONN_MSG",
  "MCAST_MSG",
  "NAMED_MSG",
  "DIRECT_MSG",
  "GRP_MEMBER_EVT",
  "GRP_BCAST_MSG",
  "GRP_MCAST_MSG",
  "GRP_UCAST_MSG",
] as const;
export const LINK_PROTOCOL_TYPES = ["STATE", "RESET", "ACTIVATE"] as const;
export const NAME_DISTRIBUTOR_TYPES = ["PUBLICATION", "WITHDRAWAL"] as const;
export const LINK_CONFIG_TYPES = ["DSC_REQ", "DSC_RESP", "DSC_TRIAL", "DSC_TRIAL_FAIL"] as const;
export const FRAGMENTER_TYPES = ["FIRST_FRAGMENT", "FRAGMENT", "LAST_FRAGMENT"] as const;
export const TUNNEL_TYPES = ["SYNCH", "FAILOVER"] as const;
export const CONN_MANAGER_TYPES = ["CONN_PROBE", "CONN_PROBE_REPLY", "CONN_ACK"] as const;
export const GROUP_PROTOCOL_TYPES = [
  "GRP_JOIN",
  "GRP_LEAVE",
  "GRP_ADV",
  "GRP_ACK",
  "GRP_RECLAIM",
  "GRP_REMIT",
] as const;
export const MSG_CRYPTO_TYPES = ["KEY_DISTR"] as const;

/** Type names for every user that is put on the wire, indexed by the type's wire value. */
export const TYPE_NAMES: Readonly<Record<UserName, readonly string[]>> = {
  LOW_IMPORTANCE: DATA_TYPES,
  MEDIUM_IMPORTANCE: DATA_TYPES,
  HIGH_IMPORTANCE: DATA_TYPES,
  CRITICAL_IMPORTANCE: DATA_TYPES,
  BCAST_PROTOCOL: ["STATE"],
  MSG_BUNDLER: ["BUNDLE"],
  LINK_PROTOCOL: LINK_PROTOCOL_TYPES,
  CONN_MANAGER: CONN_MANAGER_TYPES,
  GROUP_PROTOCOL: GROUP_PROTOCOL_TYPES,
  TUNNEL_PROTOCOL: TUNNEL_TYPES,
  NAME_DISTRIBUTOR: NAME_DISTRIBUTOR_TYPES,
  MSG_FRAGMENTER: FRAGMENTER_TYPES,
  LINK_CONFIG: LINK_CONFIG_TYPES,
  MSG_CRYPTO: MSG_CRYPTO_TYPES,
};

/** Wire value of each user name. */
export const USER_VALUES: Readonly<Record<UserName, number>> = Object.fromEntries(
  Object.entries(USERS).map(([value, name]) => [name, Number(value)]),
) as Record<UserName, number>;

/** Wire values of the users, by name, for code that switches on numbers. */
export const USER = {
  LOW_IMPORTANCE: 0,
  MEDIUM_IMPORTANCE: 1,
  HIGH_IMPORTANCE: 2,
  CRITICAL_IMPORTANCE: 3,
  BCAST_PROTOCOL: 5,
  MSG_BUNDLER: 6,
  LINK_PROTOCOL: 7,
  CONN_MANAGER: 8,
  GROUP_PROTOCOL: 9,
  TUNNEL_PROTOCOL: 10,
  NAME_DISTRIBUTOR: 11,
  MSG_FRAGMENTER: 12,
  LINK_CONFIG: 13,
  MSG_CRYPTO: 14,
} as const satisfies Record<UserName, number>;

/** The user name for a wire value, or undefined for 4, 15 and values out of range. */
export function userName(value: number): UserName | undefined {
  return (USERS as Record<number, UserName>)[value];
}

/** The wire value of a type name for a user, or -1 when the user has no such type. */
export function typeValue(user: UserName, type: string): number {
  const names = TYPE_NAMES[user];
  return names ? names.indexOf(type) : -1;
}
