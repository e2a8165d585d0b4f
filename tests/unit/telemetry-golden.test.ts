import { Buffer } from 'node:buffer'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { encodeReadings } from '../../src/store/influx/line-protocol.ts'
import type { PayloadFormat } from '../../src/telemetry/index.ts'
import { type DecodeContext, type DecodeResult, decode } from '../../src/telemetry/index.ts'

/**
 * Golden fixtures: one folder per case under src/telemetry/testdata, each with an input
 * (`input.json` / `input.txt` passed as text, `input.hex` / `input.bin` passed as bytes), a
 * `context.json` ({format, village, device, receivedAtMs, channels?}) and `expected.json`.
 * Readings must match exactly; errors match on path and reason and must carry a message. Where
 * readings are expected, `expected.lp` holds the InfluxDB line protocol they become: the whole
 * chain payload → readings → line protocol.
 */
const TESTDATA = join(import.meta.dirname, '../../src/telemetry/testdata')
const cases = readdirSync(TESTDATA, { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name)
  .sort()

function readInput(dir: string): string | Buffer {
  for (const name of ['input.json', 'input.txt']) {
    const file = join(dir, name)
    if (existsSync(file)) return readFileSync(file, 'utf8')
  }
  const hexFile = join(dir, 'input.hex')
  if (existsSync(hexFile)) {
    // Hex fixtures may be spread over lines with `#` comments for readability.
    const hex = readFileSync(hexFile, 'utf8')
      .split('\n')
      .map((line) => line.replace(/#.*/, ''))
      .join('')
      .replace(/\s+/g, '')
    return Buffer.from(hex, 'hex')
  }
  return readFileSync(join(dir, 'input.bin'))
}

describe('telemetry golden fixtures', () => {
  it('finds the fixtures', () => {
    expect(cases.length).toBeGreaterThanOrEqual(19)
  })

  it.each(cases)('%s', (name) => {
    const dir = join(TESTDATA, name)
    const { format, ...ctx } = JSON.parse(
      readFileSync(join(dir, 'context.json'), 'utf8'),
    ) as DecodeContext & {
      format: PayloadFormat
    }
    const expected = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8')) as DecodeResult
    const actual = decode(format, readInput(dir), ctx)

    expect(actual.readings).toEqual(expected.readings)
    expect(actual.errors.map(({ path, reason }) => ({ path, reason }))).toEqual(
      expected.errors.map(({ path, reason }) => ({ path, reason })),
    )
    for (const error of actual.errors) expect(error.message.length).toBeGreaterThan(0)
    if (expected.readings.length > 0) {
      const lines = readFileSync(join(dir, 'expected.lp'), 'utf8').trimEnd().split('\n')
      expect(encodeReadings(actual.readings)).toEqual(lines)
    }
  })
})
