export {
  type CommandHandler,
  defaultOptions,
  Gateway,
  type GatewayHealth,
  type GatewayOptions,
  type NodeCredentials,
  type NodeReading,
  type SubmitResult,
  type UplinkHealth,
} from './gateway.ts'
export {
  defaultQueueOptions,
  GatewayQueue,
  type QueueBatch,
  type QueueEntry,
  type QueueOptions,
} from './queue.ts'
export type { LinkState, NodeUplinkStats } from './uplink.ts'
