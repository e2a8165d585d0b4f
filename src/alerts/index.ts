export { HELP, handleCommand, VALVE_HELP } from './commands.ts'
export * from './config.ts'
export * from './directory.ts'
export * from './engine.ts'
export { alertEngineFromConfig } from './from-config.ts'
export * from './influx-events.ts'
export { type FieldAdvice, IrrigationAdvisor } from './irrigation.ts'
export type { InboundSms, OutboundSms, OutboxPort } from './notify-port.ts'
export {
  describePartition,
  ownership,
  type PartitionConfig,
  partitionClientId,
  partitionSchema,
  villageBucket,
} from './partition.ts'
export { alertsTables } from './schema.ts'
export { StateFeed, type StateFeedOptions } from './state-feed.ts'
export * from './templates.ts'
export { type CommandPort, VALVE_TEXTS, type ValveTextArgs, type ValveTextId } from './valves.ts'
