import type { PayloadFormat } from './formats.ts'
import { isPlainObject } from './validate.ts'

/**
 * The registered device a network server's message is about: ChirpStack v4 names it in
 * `deviceInfo.deviceName` (else its `deviceInfo.devEui`), The Things Stack v3 in
 * `end_device_ids.device_id`; lower-cased, as registry ids are. One mapping for every transport
 * (the HTTP integrations, src/api/telemetry-route.ts, and the MQTT bridge, src/lorawan).
 */
export function lorawanDeviceId(format: PayloadFormat, message: unknown): string | undefined {
  if (!isPlainObject(message)) return undefined
  let id: unknown
  if (format === 'chirpstack') {
    const info = message.deviceInfo
    if (isPlainObject(info)) id = info.deviceName ?? info.devEui
  } else if (format === 'tts') {
    const ids = message.end_device_ids
    if (isPlainObject(ids)) id = ids.device_id
  }
  return typeof id === 'string' ? id.toLowerCase() : undefined
}
