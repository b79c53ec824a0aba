export type { AdmissionOptions, AdmissionPolicy } from "./admission.js";
export { createAdmission } from "./admission.js";
export type { FrameDiagnosis, NonceRule } from "./diagnose.js";
export { diagnoseFrame } from "./diagnose.js";
export type { Ehdr } from "./ehdr.js";
export {
  buildIv,
  EHDR_CFG_SIZE,
  EHDR_SIZE,
  EMSG_OVERHEAD,
  ehdrSize,
  IV_SIZE,
  isEncrypted,
  readEhdr,
  SALT_SIZE,
  TAG_SIZE,
  TIPC_EVERSION,
  writeEhdr,
} from "./ehdr.js";
export type {
  CryptoCounters,
  CryptoDropCause,
  CryptoEngine,
  CryptoOptions,
  CryptoStats,
  DecryptResult,
  EncryptResult,
  KeyMessage,
  KeySlotStatus,
  KeyStatus,
  SetKeyOptions,
  SlotState,
} from "./engine.js";
export {
  CRYPTO_DROP_CAUSES,
  createCrypto,
  TIPC_KEY_WORK_RETRY,
  TIPC_REKEYING_INTV_DEF,
  TIPC_RX_ACTIVE_LIM,
  TIPC_RX_PASSIVE_LIM,
  TIPC_TX_GRACE_PERIOD,
  TIPC_TX_LASTING_TIME,
} from "./engine.js";
export type { AeadKey, CryptoErrorCode, ReceivedSessionKey } from "./key.js";
export {
  buildKeyDistrMessage,
  CLUSTER_KEY,
  isTipcCryptoError,
  KEY_DISTR_MSG,
  PER_NODE_KEY,
  parseKey,
  readKeyDistrMessage,
  TIPC_AEAD_ALG,
  TIPC_AEAD_ALG_NAME,
  TIPC_AEAD_KEYLENS,
  TipcCryptoError,
} from "./key.js";
export { REPLAY_WINDOW_SIZE } from "./replay.js";
