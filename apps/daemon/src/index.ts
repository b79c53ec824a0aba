export {
  ConfigError,
  type ConfigErrorCode,
  type DaemonConfig,
  type DaemonConfigInput,
  type DaemonFlags,
  isConfigError,
  loadConfig,
  validateConfig,
} from "./config.js";
export {
  type ControlServer,
  type ControlServerOptions,
  ControlSocketError,
  type ControlSocketErrorCode,
  isControlSocketError,
  MAX_SOCKET_PATH_BYTES,
  prepareSocketPath,
  startControlServer,
} from "./control.js";
export { type Daemon, type StartOptions, startDaemon } from "./daemon.js";
export type { MetricsServer } from "./metrics.js";
export {
  controlJSONSchema,
  isProtocolError,
  PARAM_SCHEMAS,
  type Params,
  ProtocolError,
  parseParams,
} from "./schema.js";
export { VERSION } from "./version.js";
