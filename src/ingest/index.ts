export { type BatcherOptions, WriteBatcher } from './batcher.ts'
export {
  type MessageHandler,
  type MqttConnection,
  MqttConsumer,
  type MqttConsumerOptions,
} from './mqtt-consumer.ts'
export { PeerAdoption, type PeerAdoptionOptions, workerStateTopic } from './peer-adoption.ts'
export {
  type IngestOptions,
  type IngestOutcome,
  IngestPipeline,
  type RejectionReport,
  reportedErrors,
} from './pipeline.ts'
export {
  DeviceQuotas,
  defaultQuotaOptions,
  type QuotaKind,
  type QuotaOptions,
  type QuotaRefusal,
} from './quota.ts'
export { publishRejection, uplinkHandler } from './uplinks.ts'
