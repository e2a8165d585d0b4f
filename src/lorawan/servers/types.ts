import type { PayloadFormat } from '../../telemetry/index.ts'
import type { ServerKind } from '../config.ts'

/** Where a device sits on its network server: what its topics are built from. */
export interface ServerTopic {
  /** ChirpStack: the application id (UUID). TTS: `<application id>@<tenant id>` (or the application id). */
  app: string
  /** ChirpStack: the DevEUI (16 hex digits). TTS: the end device id. */
  dev: string
  /** ChirpStack: `up`, `join`, `ack`, … TTS: `up`, `join`, `down/ack`, … */
  event: string
}

/** What one event means to us, read from its JSON body. */
export type Interpretation =
  /** Readings: the body goes through the ingest pipeline with the server's decoder. */
  | { type: 'uplink' }
  /** The device is there (a join, a status report): downlinks can be addressed to it. */
  | { type: 'seen' }
  /** The server's word on a downlink we pushed. */
  | {
      type: 'answer'
      /** acknowledged/failed decide the command; transmitted: a gateway sent it (decides only unconfirmed ones). */
      outcome: 'acknowledged' | 'failed' | 'transmitted'
      error?: string
      /** ChirpStack names the queue item (the `id` we gave the downlink). */
      queueItemId?: string
      /** TTS echoes the downlink's correlation ids (ours is `kampung:command:<id>`). */
      correlationIds?: string[]
    }
  /** An event we do not use (log, location, queued, …): counted, acknowledged. */
  | { type: 'ignored' }
  | { type: 'malformed'; message: string }

/** A command as one downlink: raw bytes (our layout) or an object for the server's codec. */
export interface DownlinkFrame {
  commandId: string
  fPort: number
  confirmed: boolean
  bytes?: Buffer
  object?: Record<string, unknown>
}

/** One network server's MQTT integration: its topics, its event bodies, its downlink message. */
export interface NetworkServer {
  kind: ServerKind
  /** The telemetry decoder of its uplink bodies (src/telemetry). */
  format: PayloadFormat
  /** What the bridge subscribes to (QoS 1). */
  topicFilters: readonly string[]
  /** A topic of this server's integration, or undefined. */
  parseTopic(topic: string): ServerTopic | undefined
  interpret(event: string, body: unknown): Interpretation
  /** The topic and JSON body that queue `frame` for the device at `to`. */
  downlink(to: { app: string; dev: string }, frame: DownlinkFrame): { topic: string; payload: string }
}

/** The correlation id a TTS downlink carries for command `id`. */
export const CORRELATION_PREFIX = 'kampung:command:'

/** A JSON object (not null, not an array). */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
