export {
  ClientError,
  type ClientErrorCode,
  type ClientSubscription,
  type ConnectOptions,
  connect,
  isClientError,
  type SubscribeOptions,
  type TipcClient,
} from "./client.js";
export * from "./protocol.js";
