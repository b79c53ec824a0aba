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
