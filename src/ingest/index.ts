export { type BatcherOptions, WriteBatcher } from './batcher.ts'
export { MqttIngest, type MqttIngestOptions } from './mqtt-ingest.ts'
export { PeerAdoption, type PeerAdoptionOptions, workerStateTopic } from './peer-adoption.ts'
export { type IngestOptions, type IngestOutcome, IngestPipeline, type RejectionReport } from './pipeline.ts'
