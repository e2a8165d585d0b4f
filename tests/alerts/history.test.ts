import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { ReadingHistory } from '../../src/alerts/history.ts'
import { Registry } from '../../src/registry/index.ts'
import { SCHEMAS } from '../../src/schemas.ts'

const MIN = 60_000
let cleanup: (() => Promise<void>) | undefined
afterEach(async () => {
  await cleanup?.()
  cleanup = undefined
})

async function db() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kampung-history-'))
  const registry = new Registry({ path: path.join(dir, 'registry.db'), schemas: SCHEMAS })
  await registry.start()
  cleanup = async () => {
    await registry.stop()
    rmSync(dir, { recursive: true, force: true })
  }
  return registry.database()
}

/**
 * ReadingHistory keeps each series' samples sorted by time in one interleaved array, a device's
 * series in one short list: late samples slot in, one per time, pruned ones are dropped once many,
 * and the journal replays exactly what was kept.
 */
describe('ReadingHistory', () => {
  it('keeps samples sorted and one per time whatever order they come in; sensors and quantities apart', async () => {
    const h = new ReadingHistory()
    const a = h.series('soil-1', 'soil_moisture', 'main', 'kemiren')
    const b = h.series('soil-1', 'soil_moisture', 'deep', 'kemiren')
    const c = h.series('soil-1', 'soil_temperature', 'main', 'kemiren')
    expect(h.series('soil-1', 'soil_moisture', 'main', 'kemiren')).toBe(a)
    for (const m of [5, 1, 3, 9, 7, 3]) h.add(a, m * MIN, m) // 3 twice: the later replaces
    h.add(a, 3 * MIN, 33)
    h.add(b, 4 * MIN, 40)
    h.add(c, 2 * MIN, 26)
    expect(h.times('soil-1', 'soil_moisture')).toEqual([1, 3, 4, 5, 7, 9].map((m) => m * MIN))
    expect(h.count('soil-1', 'soil_moisture')).toBe(6)
    expect(h.count('soil-1')).toBe(7)
    expect(h.window('soil-1', 'soil_moisture', 2 * MIN, 6 * MIN)).toEqual({ lo: 5, hi: 40, n: 3 })
    expect(h.window('soil-1', 'soil_temperature', 0, 9 * MIN)).toEqual({ lo: 26, hi: 26, n: 1 })
    expect(h.atOrBefore('soil-1', 'soil_moisture', 4.5 * MIN)).toEqual({ value: 40, timeMs: 4 * MIN })
    expect(h.atOrBefore('soil-1', 'soil_moisture', 3 * MIN)).toEqual({ value: 33, timeMs: 3 * MIN })
    expect(h.atOrBefore('soil-1', 'soil_moisture', 0)).toBeUndefined()
    expect(h.atOrBefore('soil-2', 'soil_moisture', 9 * MIN)).toBeUndefined()
  })

  it('prunes to the cutoff (the newest always stays), drops pruned samples once many, and replays the journal', async () => {
    const d = await db()
    const h = new ReadingHistory()
    const rain = h.series('wx-1', 'rainfall', 'main', 'kemiren')
    const rh = h.series('wx-1', 'relative_humidity', 'main', 'kemiren')
    for (let m = 0; m < 100; m++) {
      h.add(rain, m * MIN, 0.5)
      h.add(rh, m * MIN, 80 + (m % 5))
    }
    h.persist(d)
    // Rain for the last 30 min, humidity its newest only.
    const cutoff = (q: string) => (q === 'rainfall' ? 70 * MIN : Number.POSITIVE_INFINITY)
    h.prune(d, cutoff, { journalCutoffMs: 0, compact: true })
    expect(h.count('wx-1', 'rainfall')).toBe(30)
    expect(h.count('wx-1', 'relative_humidity')).toBe(1)
    expect(h.villageSum('kemiren', 'rainfall', 0, 100 * MIN)).toBe(15)
    // More samples after the pruned ones: the arrays start over at the live samples.
    for (let m = 100; m < 140; m++) h.add(rain, m * MIN, 1)
    h.add(rain, 85.5 * MIN, 2) // late, between kept ones
    h.persist(d)
    expect(rain.start).toBe(0)
    expect(h.times('wx-1', 'rainfall')).toHaveLength(71)
    expect(h.villageSum('kemiren', 'rainfall', 85 * MIN, 86 * MIN)).toBe(2.5)
    expect(h.villageAtOrBefore('kemiren', 'relative_humidity', Number.POSITIVE_INFINITY)).toEqual({
      value: 84,
      timeMs: 99 * MIN,
    })
    const again = new ReadingHistory()
    again.load(d, () => true)
    for (const q of ['rainfall', 'relative_humidity'])
      expect(again.times('wx-1', q)).toEqual(h.times('wx-1', q))
    expect(again.window('wx-1', 'rainfall', 0, 200 * MIN)).toEqual(h.window('wx-1', 'rainfall', 0, 200 * MIN))
    expect(again.villageSum('kemiren', 'rainfall', 0, 200 * MIN)).toBe(
      h.villageSum('kemiren', 'rainfall', 0, 200 * MIN),
    )
  })
})
