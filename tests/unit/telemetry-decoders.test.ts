import { Buffer } from 'node:buffer'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { PayloadFormat } from '../../src/telemetry/index.ts'
import {
  ALIASES,
  type DecodeContext,
  decode,
  QUANTITY_NAMES,
  resolveQuantity,
} from '../../src/telemetry/index.ts'
import { splitName } from '../../src/telemetry/senml.ts'
import { parseIsoTime } from '../../src/telemetry/time.ts'

const T = Date.UTC(2024, 4, 1, 10) // 1714557600000
const ctx: DecodeContext = { village: 'sumberagung', device: 'node-1', receivedAtMs: T }
const FORMATS: PayloadFormat[] = ['json', 'senml', 'lpp', 'chirpstack', 'tts']

describe('aliases', () => {
  it('resolves names case- and separator-insensitively', () => {
    expect(resolveQuantity('soilMoisture')).toBe('soil_moisture')
    expect(resolveQuantity('SOIL_MOISTURE')).toBe('soil_moisture')
    expect(resolveQuantity('soil_temp')).toBe('soil_temperature')
    expect(resolveQuantity('Temp')).toBe('air_temperature')
    expect(resolveQuantity('lng')).toBe('longitude')
    expect(resolveQuantity('leaf_wetness')).toBeUndefined()
  })

  it('resolves every canonical name and alias to its own quantity', () => {
    for (const q of QUANTITY_NAMES) {
      expect(resolveQuantity(q)).toBe(q)
      for (const alias of ALIASES[q]) expect(resolveQuantity(alias)).toBe(q)
    }
  })
})

describe('ISO time', () => {
  it('needs a zone and rounds fractions to ms', () => {
    expect(parseIsoTime('2024-05-01T10:00:00Z')).toBe(T)
    expect(parseIsoTime('2024-05-01T17:00:00+07:00')).toBe(T)
    expect(parseIsoTime('2024-05-01T10:00:00.0006Z')).toBe(T + 1)
    expect(parseIsoTime('2024-05-01T10:00:00')).toBeUndefined()
    expect(parseIsoTime('2024-02-30T10:00:00Z')).toBeUndefined()
  })
})

describe('decode never throws', () => {
  const junk: (string | Buffer)[] = [
    '',
    'null',
    '42',
    '"x"',
    '[]',
    '[null, 1, "a", []]',
    '{"values": null}',
    '{"e": 5}',
    '{"uplink_message": 5}',
    '{"rxInfo": 5, "data": 7}',
    Buffer.from([0xff, 0xfe, 0x00]),
    Buffer.from([0x01]),
  ]
  it.each(FORMATS)('%s on junk', (format) => {
    for (const payload of junk) expect(() => decode(format, payload, ctx)).not.toThrow()
  })

  it.each(FORMATS)('%s on random bytes', (format) => {
    let seed = 7
    const rand = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff
      return seed
    }
    for (let n = 0; n < 300; n++) {
      const bytes = Buffer.from(Array.from({ length: rand() % 40 }, () => rand() & 0xff))
      const result = decode(format, bytes, { ...ctx, channels: { '1': { quantity: 'soil_moisture' } } })
      for (const r of result.readings) expect(Number.isFinite(r.value)).toBe(true)
    }
  })

  it('reports an unknown format', () => {
    const result = decode('xml' as PayloadFormat, '<a/>', ctx)
    expect(result.errors).toEqual([expect.objectContaining({ path: '$', reason: 'unknown_format' })])
  })
})

describe('lpp', () => {
  it('reads hex and base64 strings and Uint8Array alike', () => {
    const bytes = [0x01, 0x67, 0xff, 0xd7] // -41 / 10 = -4.1 °C
    const fromHex = decode('lpp', '0167FFD7', ctx)
    const fromB64 = decode('lpp', Buffer.from(bytes).toString('base64'), ctx)
    const fromU8 = decode('lpp', new Uint8Array(bytes), ctx)
    expect(fromHex.readings.map((r) => r.value)).toEqual([-4.1])
    expect(fromB64.readings).toEqual(fromHex.readings)
    expect(fromU8.readings).toEqual(fromHex.readings)
  })

  it('rejects a string that is neither hex nor base64', () => {
    expect(decode('lpp', 'not*lpp', ctx).errors[0]?.reason).toBe('malformed')
  })

  it('skips an accelerometer record but reads on', () => {
    const result = decode('lpp', '0171000100020003' + '02670100', ctx)
    expect(result.errors.map((e) => e.reason)).toEqual(['unsupported'])
    expect(result.readings).toEqual([expect.objectContaining({ sensor: 'ch2', value: 25.6 })])
  })
})

describe('senml', () => {
  it('splits names into sensor and quantity', () => {
    expect(splitName('urn:dev:ow:10e2073a01080063:temp')).toEqual({ sensor: 'main', quantityName: 'temp' })
    expect(splitName('urn:dev:mac:0024befffe804ff1/soil1/vwc')).toEqual({
      sensor: 'soil1',
      quantityName: 'vwc',
    })
    expect(splitName('gw/soil2/soil_moisture')).toEqual({ sensor: 'soil2', quantityName: 'soil_moisture' })
    expect(splitName('rh')).toEqual({ sensor: 'main', quantityName: 'rh' })
  })

  it('ignores a pack of another version', () => {
    const result = decode('senml', '[{"bver": 11, "n": "temp", "v": 20}]', ctx)
    expect(result.readings).toEqual([])
    expect(result.errors).toEqual([expect.objectContaining({ path: '$[0].bver', reason: 'unsupported' })])
  })

  it('accepts the pre-RFC {"bn", "e": [...]} form', () => {
    const result = decode('senml', '{"bn": "soil1/", "e": [{"n": "vwc", "u": "%", "v": 30}]}', ctx)
    expect(result.readings).toEqual([expect.objectContaining({ sensor: 'soil1', quantity: 'soil_moisture' })])
  })

  it('refuses an absolute time far in the future', () => {
    const result = decode('senml', JSON.stringify([{ n: 'temp', t: T / 1000 + 3600, v: 20 }]), ctx)
    expect(result.errors).toEqual([expect.objectContaining({ path: '$[0].t', reason: 'bad_time' })])
  })
})

describe('json', () => {
  it('flags two keys for one series', () => {
    const result = decode('json', '{"values": {"temp": 20, "temperature": 21}}', ctx)
    expect(result.readings).toHaveLength(1)
    expect(result.errors).toEqual([
      expect.objectContaining({ path: '$.values.temperature', reason: 'invalid_field' }),
    ])
  })

  it('quotes keys that are not identifiers in paths', () => {
    const result = decode('json', '{"values": {"soil1/moisture": 140}}', ctx)
    expect(result.errors[0]?.path).toBe('$.values["soil1/moisture"]')
  })
})

describe('network servers', () => {
  it('refuses an uplink whose time is out of the window', () => {
    const event = { time: '2019-12-31T00:00:00Z', object: { temp: 20 }, rxInfo: [{ rssi: -90 }] }
    const result = decode('chirpstack', JSON.stringify(event), ctx)
    expect(result.readings).toEqual([])
    expect(result.errors).toEqual([expect.objectContaining({ path: '$.time', reason: 'bad_time' })])
  })

  it('falls back to the received time when the time does not parse', () => {
    const result = decode(
      'tts',
      JSON.stringify({ received_at: 'soon', uplink_message: { frm_payload: '' } }),
      ctx,
    )
    expect(result).toEqual({ readings: [], errors: [] })
    const withObject = { received_at: 'soon', uplink_message: { decoded_payload: { vbat: 3.3 } } }
    expect(decode('tts', JSON.stringify(withObject), ctx).readings[0]?.timeMs).toBe(T)
  })

  it("reads TTS's CayenneLPP formatter output as the same readings as its frm_payload", () => {
    // The golden case carries both; decoding each alone must give one set of readings.
    const dir = join(import.meta.dirname, '../../src/telemetry/testdata/tts-lpp-formatter-soil-node')
    const { format: _format, ...soilCtx } = JSON.parse(readFileSync(join(dir, 'context.json'), 'utf8'))
    const message = JSON.parse(readFileSync(join(dir, 'input.json'), 'utf8'))
    const fromFormatter = decode('tts', JSON.stringify(message), soilCtx)
    delete message.uplink_message.decoded_payload
    const fromBytes = decode('tts', JSON.stringify(message), soilCtx)
    const key = (r: { sensor: string; quantity: string }) => `${r.sensor}/${r.quantity}`
    const sorted = <T extends { sensor: string; quantity: string }>(rs: T[]) =>
      [...rs].sort((a, b) => key(a).localeCompare(key(b)))
    expect(fromFormatter.readings.length).toBe(10)
    expect(sorted(fromFormatter.readings)).toEqual(sorted(fromBytes.readings))
    expect(fromFormatter.errors.map((e) => e.reason).sort()).toEqual(
      fromBytes.errors.map((e) => e.reason).sort(),
    )
  })

  it('rejects a malformed CayenneLPP formatter entry alone and keeps the others', () => {
    const message = {
      uplink_message: {
        decoded_payload: { temperature_1: 'warm', gps_2: 7, relative_humidity_3: 61.5, luminosity_300: 5 },
      },
    }
    const result = decode('tts', JSON.stringify(message), ctx)
    expect(result.readings).toEqual([
      expect.objectContaining({ sensor: 'ch3', quantity: 'relative_humidity', value: 61.5 }),
    ])
    // luminosity_300 names no channel (0-255): an unknown key, not a record.
    expect(result.errors.map(({ path, reason }) => ({ path, reason }))).toEqual([
      { path: '$.uplink_message.decoded_payload.temperature_1', reason: 'invalid_field' },
      { path: '$.uplink_message.decoded_payload.gps_2', reason: 'invalid_field' },
      { path: '$.uplink_message.decoded_payload.luminosity_300', reason: 'unknown_quantity' },
    ])
  })

  it('reports the codec keys when none resolves and there is no frame payload to fall back to', () => {
    const message = { uplink_message: { decoded_payload: { counter: 3 } } }
    expect(decode('tts', JSON.stringify(message), ctx).errors).toEqual([
      expect.objectContaining({
        path: '$.uplink_message.decoded_payload.counter',
        reason: 'unknown_quantity',
      }),
    ])
  })

  it('gives nothing for a TTS event that is not an uplink', () => {
    const join = { end_device_ids: { device_id: 'x' }, join_accept: { session_key_id: 'AX' } }
    expect(decode('tts', JSON.stringify(join), ctx)).toEqual({ readings: [], errors: [] })
  })
})

describe("the store's retention at decode", () => {
  const DAY_MS = 86_400_000
  const kept = { ...ctx, retentionMs: 90 * DAY_MS }

  it('refuses a time older than the retention as bad_time in every format that carries a time', () => {
    const old = T - 91 * DAY_MS
    const json = decode('json', Buffer.from(JSON.stringify({ ts: old, values: { soil_moisture: 30 } })), kept)
    expect(json.readings).toEqual([])
    expect(json.errors).toEqual([
      {
        path: '$.ts',
        reason: 'bad_time',
        message: expect.stringMatching(
          /older than the store keeps readings \(90 days before the received time/,
        ),
      },
    ])
    const senml = decode(
      'senml',
      Buffer.from(JSON.stringify([{ bn: 'n/', bt: old / 1000, n: 'soil_moisture', u: '%', v: 30 }])),
      kept,
    )
    expect(senml.errors.map((e) => e.reason)).toEqual(['bad_time'])
  })

  it('keeps a time inside the retention, and any time when the store keeps readings for ever', () => {
    const inside = T - 89 * DAY_MS
    expect(
      decode('json', Buffer.from(JSON.stringify({ ts: inside, values: { soil_moisture: 30 } })), kept)
        .readings,
    ).toHaveLength(1)
    const old = T - 400 * DAY_MS
    expect(
      decode('json', Buffer.from(JSON.stringify({ ts: old, values: { soil_moisture: 30 } })), ctx).readings,
    ).toHaveLength(1)
  })
})
