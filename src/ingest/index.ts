export { type BatcherOptions, WriteBatcher } from './batcher.ts'
export { MqttIngest, type MqttIngestOptions } from './mqtt-ingest.ts'
export { type IngestOptions, type IngestOutcome, IngestPipeline, type RejectionReport } from './pipeline.ts'
