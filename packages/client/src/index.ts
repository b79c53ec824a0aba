export {
  ClientError,
  type ClientErrorCode,
  type ClientSubscription,
  type ConnectOptions,
  connect,
  isClientError,
  MAX_RESPONSE_LINE_BYTES,
  type SubscribeOptions,
  type TipcClient,
} from "./client.js";
export {
  ClientConnection,
  type ClientConnectionOptions,
  ClientServer,
  type ClientServerOptions,
} from "./connection.js";
export {
  encodeFrame,
  type Frame,
  FrameDecoder,
  type FrameDecoderOptions,
  FramingError,
  type FramingErrorCode,
  isFramingError,
  MAX_PAYLOAD_BYTES,
} from "./framing.js";
export * from "./protocol.js";
export type {
  BindRange,
  ClientSocket,
  ReceivedMessage,
  ReturnedMessage,
  SocketEvent,
  SocketOptions,
  SocketSendOptions,
} from "./socket.js";
