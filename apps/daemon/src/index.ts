export {
  ConfigError,
  type ConfigErrorCode,
  configFromEnv,
  configFromFlags,
  configSchema,
  type DaemonConfig,
  type DaemonConfigInput,
  type DaemonFlags,
  isConfigError,
  loadConfig,
  mergeConfig,
  parseHostPort,
  parseLocalhostPort,
  readConfigFile,
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
export { formatNameTable } from "./format.js";
export { createMetricsRegistry, type MetricsServer, startMetricsServer } from "./metrics.js";
export {
  controlJSONSchema,
  isProtocolError,
  PARAM_SCHEMAS,
  type Params,
  ProtocolError,
  parseParams,
} from "./schema.js";
export { VERSION } from "./version.js";
