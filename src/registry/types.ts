import type { ChannelMap, PayloadFormat } from '../telemetry/index.ts'

/** `service` principals (ingest workers, operators' tools) may read every village's topics. */
export const DEVICE_KINDS = ['soil', 'weather', 'dendrometer', 'gateway', 'other', 'service'] as const
export type DeviceKind = (typeof DEVICE_KINDS)[number]

/** Ids become MQTT topic levels and InfluxDB tags: keep them to a safe alphabet. */
export const ID_PATTERN = /^[a-z0-9][a-z0-9_-]{0,62}$/

export interface Village {
  id: string
  name: string
}

export interface Device {
  id: string
  village: string
  kind: DeviceKind
  format: PayloadFormat
  /** Cayenne LPP channel map (and for ChirpStack/TTS payloads carried as LPP). */
  channels?: ChannelMap
  lat?: number
  lon?: number
  createdAtMs: number
}

export interface NewDevice {
  id: string
  village: string
  kind: DeviceKind
  format: PayloadFormat
  channels?: ChannelMap
  lat?: number
  lon?: number
}
