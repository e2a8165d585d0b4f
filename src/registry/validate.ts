import { KampungError } from '../errors.ts'
import type { ChannelMap } from '../telemetry/index.ts'
import { isQuantity, PAYLOAD_FORMATS } from '../telemetry/index.ts'
import { DEVICE_KINDS, ID_PATTERN, type NewDevice } from './types.ts'

/** Says in words what ID_PATTERN allows, for error messages. */
export const ID_RULE =
  "1 to 63 characters from a-z, 0-9, '_' and '-', starting with a lowercase letter or a digit"

function invalid(code: string, message: string): KampungError {
  return new KampungError(code, message, { retryable: false })
}

export function checkId(what: 'device' | 'village', id: unknown): string {
  if (typeof id !== 'string' || !ID_PATTERN.test(id)) {
    throw invalid('invalid_id', `${what} id ${JSON.stringify(id)} is not valid: use ${ID_RULE}`)
  }
  return id
}

export function checkChannels(channels: unknown): ChannelMap {
  if (typeof channels !== 'object' || channels === null || Array.isArray(channels)) {
    throw invalid('invalid_device', 'channels must be an object like {"1": {"quantity": "soil_moisture"}}')
  }
  for (const [channel, spec] of Object.entries(channels)) {
    const quantity = (spec as { quantity?: unknown } | null)?.quantity
    if (typeof quantity !== 'string' || !isQuantity(quantity)) {
      throw invalid(
        'invalid_device',
        `channels.${channel}.quantity ${JSON.stringify(quantity)} is not a known quantity`,
      )
    }
    const sensor = (spec as { sensor?: unknown }).sensor
    if (sensor !== undefined && (typeof sensor !== 'string' || !ID_PATTERN.test(sensor))) {
      throw invalid(
        'invalid_device',
        `channels.${channel}.sensor ${JSON.stringify(sensor)} is not valid: use ${ID_RULE}`,
      )
    }
  }
  return channels as ChannelMap
}

function checkCoordinate(name: 'lat' | 'lon', value: unknown, limit: number): void {
  if (value === undefined) return
  if (typeof value !== 'number' || !Number.isFinite(value) || Math.abs(value) > limit) {
    throw invalid(
      'invalid_device',
      `${name} ${JSON.stringify(value)} must be a number from -${limit} to ${limit}`,
    )
  }
}

/** Every check on a new device, before any side effect. */
export function checkNewDevice(d: NewDevice): void {
  checkId('device', d.id)
  checkId('village', d.village)
  if (!(DEVICE_KINDS as readonly string[]).includes(d.kind)) {
    throw invalid('invalid_device', `kind ${JSON.stringify(d.kind)} is not one of ${DEVICE_KINDS.join(', ')}`)
  }
  if (!(PAYLOAD_FORMATS as readonly string[]).includes(d.format)) {
    throw invalid(
      'invalid_device',
      `format ${JSON.stringify(d.format)} is not one of ${PAYLOAD_FORMATS.join(', ')}`,
    )
  }
  if (d.channels !== undefined) checkChannels(d.channels)
  checkCoordinate('lat', d.lat, 90)
  checkCoordinate('lon', d.lon, 180)
}
