export {
  bulkItemsPerMessage,
  createDistributor,
  DEFAULT_MAX_HELD_PER_PEER,
  DEFAULT_MTU,
  DISTRIBUTOR_DROP_CAUSES,
} from "./distributor.js";
export { DistributorError, type DistributorErrorCode, isDistributorError } from "./errors.js";
export { KernelNamedQueue, KernelQueueReceiver } from "./kernel-queue-receiver.js";
export type * from "./types.js";
