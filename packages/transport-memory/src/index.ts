export {
  type Clock,
  createVirtualClock,
  isVirtualClock,
  realClock,
  seededRandom,
  type TimerHandle,
  type VirtualClock,
} from "./clock.js";
export {
  type DropCause,
  type FabricCounters,
  type FabricEvent,
  type Faults,
  type JoinOptions,
  type MemoryFabric,
  type MemoryFabricOptions,
  type MemoryTransport,
  memoryFabric,
  type Partition,
} from "./fabric.js";
