import { describe, expect, it } from 'vitest'
import { quoteIdent, quoteString } from '../../src/store/influx/influxql.ts'
import {
  encodeBody,
  encodeReading,
  escapeTag,
  formatFloat,
  fromStoredTag,
  toStoredTag,
} from '../../src/store/influx/line-protocol.ts'
import type { Reading } from '../../src/telemetry/reading.ts'

const base: Reading = {
  timeMs: 1_700_000_000_123,
  village: 'sukorejo',
  device: 'node-01',
  sensor: 'soil1',
  quantity: 'soil_moisture',
  value: 31.5,
}

describe('line protocol', () => {
  it('encodes one reading with sorted tags, a float field and a ms timestamp', () => {
    expect(encodeReading(base)).toBe(
      'soil_moisture,device=node-01,sensor=soil1,unit=%VWC,village=sukorejo value=31.5 1700000000123',
    )
  })

  it('writes integral values without an i suffix (so they stay floats)', () => {
    expect(encodeReading({ ...base, value: 23 })).toContain(' value=23 ')
    expect(formatFloat(-0)).toBe('0')
    expect(formatFloat(1e-7)).toBe('1e-7')
    expect(() => formatFloat(Number.NaN)).toThrow(RangeError)
    expect(() => formatFloat(Number.POSITIVE_INFINITY)).toThrow(RangeError)
  })

  it('escapes comma, equals and space in tag values', () => {
    expect(escapeTag('a b,c=d')).toBe('a\\ b\\,c\\=d')
    expect(encodeReading({ ...base, device: 'a b,c=d' })).toContain(',device=a\\ b\\,c\\=d,sensor=')
  })

  it('percent-encodes %, backslash and control characters, reversibly', () => {
    expect(toStoredTag('a%b')).toBe('a%25b')
    expect(toStoredTag('a\\')).toBe('a%5C')
    expect(toStoredTag('x\ny\rz\tw\u0000\u007f')).toBe('x%0Ay%0Dz%09w%00%7F')
    for (const raw of ['plain', 'a%b', '%0A', 'end\\', '\\\\,', 'line\nbreak\r\n', 'mixed %25 \\n \n', '']) {
      expect(fromStoredTag(toStoredTag(raw))).toBe(raw)
    }
  })

  it('never lets a tag value produce a newline, an unescaped delimiter or a trailing backslash', () => {
    const hostile = 'x\nsoil_moisture,device=y value=1 1\r\\'
    const line = encodeReading({ ...base, device: hostile, sensor: 's=1, \\', village: 'v\\' })
    expect(line).not.toMatch(/[\n\r]/)
    expect(line.split('\n')).toHaveLength(1)
    // Exactly one unescaped space before the field set and one before the timestamp.
    expect(line.match(/(?<!\\) /g)).toHaveLength(2)
    // No backslash except as an escape of `,`, `=` or space.
    expect(line.replace(/\\[,= ]/g, '')).not.toContain('\\')
    expect(line).toBe(
      'soil_moisture,device=x%0Asoil_moisture\\,device\\=y\\ value\\=1\\ 1%0D%5C' +
        ',sensor=s\\=1\\,\\ %5C,unit=%VWC,village=v%5C value=31.5 1700000000123',
    )
  })

  it('writes a range of readings as one body, a line each, and keeps series apart whatever their ids', () => {
    // ids chosen so that naive concatenation of quantity/village/device/sensor would collide
    const a = { ...base, village: 'v', device: 'a|b', sensor: 'c' }
    const b = { ...base, village: 'v', device: 'a', sensor: 'b|c' }
    const body = encodeBody([base, a, b, base], 1, 3).toString('utf8')
    expect(body).toBe(`${encodeReading(a)}\n${encodeReading(b)}\n`)
    expect(encodeReading(a)).toContain('device=a|b,sensor=c,')
    expect(encodeReading(b)).toContain('device=a,sensor=b|c,')
  })

  it('refuses unknown quantities and non-integer times', () => {
    expect(() => encodeReading({ ...base, quantity: 'x y' as Reading['quantity'] })).toThrow(RangeError)
    expect(() => encodeReading({ ...base, timeMs: 1.5 })).toThrow(RangeError)
  })
})

describe('InfluxQL quoting', () => {
  it('quotes identifiers and string literals', () => {
    expect(quoteIdent('soil_moisture')).toBe('"soil_moisture"')
    expect(quoteIdent('a"b\\c')).toBe('"a\\"b\\\\c"')
    expect(quoteString("it's \\ here")).toBe("'it\\'s \\\\ here'")
    expect(() => quoteString('a\nb')).toThrow(RangeError)
  })
})
