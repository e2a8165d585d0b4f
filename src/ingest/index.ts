export { WriteBatcher, type BatcherOptions } from './batcher.ts'
export { MqttIngest, type MqttIngestOptions } from './mqtt-ingest.ts'
export { IngestPipeline, type IngestOptions, type IngestOutcome, type RejectionReport } from './pipeline.ts'
