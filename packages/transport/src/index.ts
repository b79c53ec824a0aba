export {
  formatIpv4,
  formatIpv6,
  formatMediaAddress,
  isMediaAddress,
  isMulticastAddress,
  mediaAddressEquals,
  mediaAddressKey,
  normalizeMediaAddress,
  parseIpv4,
  parseIpv6,
} from "./address.js";
export {
  type Clock,
  type Logger,
  type RealClockOptions,
  realClock,
  seededRandom,
  type TimerHandle,
} from "./clock.js";
export { checkDatagram, Handlers } from "./helpers.js";
export {
  type ErrorHandler,
  isTransportError,
  type MediaAddress,
  type ReceiveHandler,
  type SpecificationVersion,
  type Transport,
  TransportError,
  type TransportErrorCode,
  type Unsubscribe,
} from "./transport.js";
