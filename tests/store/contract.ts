import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { ID_PATTERN } from '../../src/registry/types.ts'
import { readingPages } from '../../src/store/pages.ts'
import type { TelemetryStore } from '../../src/store/types.ts'
import { QUANTITIES, QUANTITY_NAMES } from '../../src/telemetry/quantities.ts'
import type { Reading } from '../../src/telemetry/reading.ts'
import { DEFAULT_SENSOR, SENSOR_PATTERN } from '../../src/telemetry/validate.ts'

export interface StoreUnderTest {
  store: TelemetryStore
  cleanup: () => Promise<void>
}

/** A recent, whole-hour base time: inside any raw retention, and shared by every case. */
export const BASE_MS = Math.floor((Date.now() - 6 * 3_600_000) / 3_600_000) * 3_600_000

export function reading(over: Partial<Reading> = {}): Reading {
  return {
    timeMs: BASE_MS,
    village: 'sukorejo',
    device: 'node-01',
    sensor: 'soil1',
    quantity: 'soil_moisture',
    value: 31.5,
    ...over,
  }
}

/** Ids that would break naive line protocol or InfluxQL: newline, CR, comma, equals, space, quote, backslash. */
export const HOSTILE_DEVICE = 'evil\nsoil_moisture,device=x value=99 1\r, =\'"\\'
export const HOSTILE_SENSOR = 'sen sor,a=b\\'
export const HOSTILE_VILLAGE = "desa 'kidul'%0A\\n"

/**
 * The contract every TelemetryStore implementation must pass. `makeStore` returns a started,
 * empty store; `cleanup` stops it and removes what it made.
 */
export function storeContract(name: string, makeStore: () => Promise<StoreUnderTest>): void {
  describe(`TelemetryStore contract: ${name}`, () => {
    let sut: StoreUnderTest
    let store: TelemetryStore
    beforeEach(async () => {
      sut = await makeStore()
      store = sut.store
    })
    afterEach(async () => {
      await sut.cleanup()
    })

    it('round-trips values, tags and ms times, oldest first', async () => {
      const written = [
        reading({ timeMs: BASE_MS + 2_345, value: 23 }),
        reading({ timeMs: BASE_MS + 1, value: 12.345, device: 'node-02', sensor: 'soil2' }),
        reading({ timeMs: BASE_MS + 999, value: -0.001, village: 'kemiren' }),
        reading({ timeMs: BASE_MS + 5, quantity: 'air_temperature', value: 29.25, sensor: 'bme280' }),
        reading({ timeMs: BASE_MS + 7, quantity: 'stem_diameter', value: 4_999_999.5, sensor: 'dendro' }),
      ]
      await store.write(written)
      const soil = await store.query({ quantity: 'soil_moisture' })
      expect(soil).toEqual([written[1], written[2], written[0]])
      expect(soil[2]!.value).toBe(23)
      expect(await store.query({ quantity: 'air_temperature' })).toEqual([written[3]])
      expect(await store.query({ quantity: 'stem_diameter' })).toEqual([written[4]])
      expect(await store.count({ quantity: 'soil_moisture' })).toBe(3)
      expect(await store.count({ quantity: 'rainfall' })).toBe(0)
      expect(await store.query({ quantity: 'rainfall' })).toEqual([])
    })

    it('keeps one point for a reading written twice', async () => {
      const r = reading({ timeMs: BASE_MS + 42, value: 40 })
      await store.write([r])
      await store.write([r])
      await store.write([r, { ...r }])
      expect(await store.count({ quantity: 'soil_moisture' })).toBe(1)
      // Same key, new value: still one point, the last value wins.
      await store.write([{ ...r, value: 41 }])
      expect(await store.query({ quantity: 'soil_moisture' })).toEqual([{ ...r, value: 41 }])
    })

    it('filters by village, device, sensor, time range and limit', async () => {
      const rs: Reading[] = []
      for (let i = 0; i < 12; i++) {
        rs.push(
          reading({
            timeMs: BASE_MS + i * 1_000,
            village: i % 2 === 0 ? 'sukorejo' : 'kemiren',
            device: i % 3 === 0 ? 'node-a' : 'node-b',
            sensor: i % 4 === 0 ? 's1' : 's2',
            value: i,
          }),
        )
      }
      await store.write(rs)
      const expectMatch = async (
        q: Omit<Parameters<TelemetryStore['query']>[0], 'quantity'>,
        pick: (r: Reading) => boolean,
      ) => {
        const expected = rs.filter(pick)
        expect(await store.query({ quantity: 'soil_moisture', ...q })).toEqual(expected)
        expect(await store.count({ quantity: 'soil_moisture', ...q })).toBe(expected.length)
      }
      await expectMatch({ village: 'kemiren' }, (r) => r.village === 'kemiren')
      await expectMatch({ device: 'node-a' }, (r) => r.device === 'node-a')
      await expectMatch({ sensor: 's1' }, (r) => r.sensor === 's1')
      await expectMatch(
        { village: 'sukorejo', device: 'node-b', sensor: 's2' },
        (r) => r.village === 'sukorejo' && r.device === 'node-b' && r.sensor === 's2',
      )
      // fromMs inclusive, toMs exclusive.
      await expectMatch(
        { fromMs: BASE_MS + 3_000, toMs: BASE_MS + 7_000 },
        (r) => r.timeMs >= BASE_MS + 3_000 && r.timeMs < BASE_MS + 7_000,
      )
      await expectMatch({ fromMs: BASE_MS + 10_000 }, (r) => r.timeMs >= BASE_MS + 10_000)
      await expectMatch({ toMs: BASE_MS + 1 }, (r) => r.timeMs < BASE_MS + 1)
      await expectMatch({ device: 'nobody' }, () => false)
      expect(await store.query({ quantity: 'soil_moisture', limit: 3 })).toEqual(rs.slice(0, 3))
      expect(await store.count({ quantity: 'soil_moisture', limit: 3 })).toBe(3)
    })

    it('accepts an empty write', async () => {
      await store.write([])
      expect(await store.count({ quantity: 'soil_moisture' })).toBe(0)
    })

    // Stores trust their readings (validated once, by the decoder): the contract is that every
    // reading the boundary lets through is kept exactly, at the edges of what it lets through.
    it('keeps exactly every reading the decoder can let through, at the edges of each range', async () => {
      const longSensor = `A.b-c_${'x'.repeat(57)}` // SENSOR_PATTERN at its longest
      const longDevice = `n${'-_0'.repeat(20)}xy` // ID_PATTERN at its longest
      expect(SENSOR_PATTERN.test(longSensor)).toBe(true)
      expect(ID_PATTERN.test(longDevice) && longDevice.length === 63).toBe(true)
      const edges: Reading[] = QUANTITY_NAMES.flatMap((quantity, q) => {
        const { min, max } = QUANTITIES[quantity]
        return [min, max, min + (max - min) / 3].map((value, k) =>
          reading({
            quantity,
            value,
            timeMs: BASE_MS + q * 10 + k,
            device: k === 1 ? longDevice : 'node-01',
            sensor: k === 2 ? longSensor : DEFAULT_SENSOR,
          }),
        )
      })
      await store.write(edges)
      for (const quantity of QUANTITY_NAMES) {
        expect(await store.query({ quantity })).toEqual(edges.filter((r) => r.quantity === quantity))
      }
    })

    it('takes as many writes at once as the batcher allows (ingest.maxWritesInFlight, up to 8)', async () => {
      const batches = Array.from({ length: 8 }, (_, w) =>
        Array.from({ length: 250 }, (_, i) =>
          reading({ timeMs: BASE_MS + w * 1_000 + i, device: `node-${w}`, value: i % 100 }),
        ),
      )
      await Promise.all(batches.map((batch) => store.write(batch)))
      expect(await store.count({ quantity: 'soil_moisture' })).toBe(2_000)
      expect(await store.query({ quantity: 'soil_moisture', device: 'node-5' })).toEqual(batches[5])
    })

    it('stores hostile ids verbatim, without extra points or broken neighbours', async () => {
      const normal = [
        reading({ timeMs: BASE_MS + 1, device: 'node-01', value: 1 }),
        reading({ timeMs: BASE_MS + 3, device: 'node-02', value: 3 }),
      ]
      const hostile = reading({
        timeMs: BASE_MS + 2,
        village: HOSTILE_VILLAGE,
        device: HOSTILE_DEVICE,
        sensor: HOSTILE_SENSOR,
        value: 2,
      })
      // Near-twins of the hostile ids must stay separate series.
      const twin = reading({ timeMs: BASE_MS + 2, device: 'evil', sensor: 'sen sor,a=b', value: 4 })
      await store.write([normal[0]!, hostile, twin, normal[1]!])
      expect(await store.count({ quantity: 'soil_moisture' })).toBe(4)
      expect(await store.query({ quantity: 'soil_moisture', device: HOSTILE_DEVICE })).toEqual([hostile])
      expect(await store.query({ quantity: 'soil_moisture', sensor: HOSTILE_SENSOR })).toEqual([hostile])
      expect(await store.query({ quantity: 'soil_moisture', village: HOSTILE_VILLAGE })).toEqual([hostile])
      expect(await store.query({ quantity: 'soil_moisture', device: 'evil' })).toEqual([twin])
      expect(await store.query({ quantity: 'soil_moisture', device: 'node-02' })).toEqual([normal[1]])
      // The injected "soil_moisture,device=x value=99 1" line must not exist anywhere.
      expect(await store.count({ quantity: 'soil_moisture', device: 'x' })).toBe(0)
      expect(await store.count({ quantity: 'soil_moisture', toMs: BASE_MS })).toBe(0)
      const all = await store.query({ quantity: 'soil_moisture' })
      expect(all.map((r) => r.value).sort()).toEqual([1, 2, 3, 4])
    })

    // readingPages (src/store/pages.ts) pages any store by time with its limit: exports of 90 days
    // hold one page at a time. Readings sharing a millisecond must be neither split nor skipped.
    it('pages every reading exactly once, oldest first, readings of one millisecond together', async () => {
      const rs: Reading[] = []
      for (let i = 0; i < 60; i++) {
        // three series per millisecond mostly; millisecond 7 holds 9 (more than a page of 4)
        const t = i >= 30 && i < 36 ? 7 : Math.floor(i / 3)
        rs.push(
          reading({
            timeMs: BASE_MS + t * 1_000,
            village: i % 2 === 0 ? 'sukorejo' : 'kemiren',
            device: `node-${i % 6}`,
            sensor: `s${i % 5}`,
            value: i / 4,
          }),
        )
      }
      await store.write(rs)
      const key = (r: Reading) => `${String(r.timeMs).padStart(16, '0')}|${r.village}|${r.device}|${r.sensor}`
      const sorted = (list: Reading[]) => [...list].sort((a, b) => (key(a) < key(b) ? -1 : 1))
      const check = async (
        q: Omit<Parameters<TelemetryStore['query']>[0], 'quantity'>,
        pick: (r: Reading) => boolean,
      ) => {
        const pages: Reading[][] = []
        for await (const page of readingPages(store, { quantity: 'soil_moisture', ...q, limit: 1 }, 4))
          pages.push(page)
        const flat = pages.flat()
        const expected = rs.filter(pick)
        expect(sorted(flat)).toEqual(sorted(expected))
        expect(new Set(flat.map(key)).size).toBe(flat.length)
        for (let i = 1; i < flat.length; i++)
          expect(flat[i]!.timeMs).toBeGreaterThanOrEqual(flat[i - 1]!.timeMs)
        for (const page of pages) {
          expect(page.length).toBeGreaterThan(0)
          const oneMs = page.every((r) => r.timeMs === page[0]!.timeMs)
          if (!oneMs) expect(page.length).toBeLessThanOrEqual(4)
          // a millisecond is never split across pages
          const next = pages[pages.indexOf(page) + 1]
          if (next) expect(next[0]!.timeMs).toBeGreaterThan(page[page.length - 1]!.timeMs)
        }
        return pages
      }
      const all = await check({}, () => true)
      expect(all.some((p) => p.length > 4)).toBe(true)
      await check({ village: 'kemiren' }, (r) => r.village === 'kemiren')
      await check(
        { fromMs: BASE_MS + 3_000, toMs: BASE_MS + 9_000 },
        (r) => r.timeMs >= BASE_MS + 3_000 && r.timeMs < BASE_MS + 9_000,
      )
      await check({ device: 'nobody' }, () => false)
    })

    it('stores 20 000 readings written at once', async () => {
      const many: Reading[] = []
      for (let i = 0; i < 20_000; i++) {
        many.push(
          reading({
            timeMs: BASE_MS + i * 10,
            device: `node-${i % 50}`,
            sensor: i % 2 === 0 ? 'soil1' : 'soil2',
            value: (i % 1000) / 10,
          }),
        )
      }
      await store.write(many)
      expect(await store.count({ quantity: 'soil_moisture' })).toBe(20_000)
      expect(await store.count({ quantity: 'soil_moisture', device: 'node-7' })).toBe(400)
      const spot = await store.query({
        quantity: 'soil_moisture',
        fromMs: BASE_MS + 123_450,
        toMs: BASE_MS + 123_451,
      })
      expect(spot).toEqual([many[12_345]])
      const all = await store.query({ quantity: 'soil_moisture' })
      expect(all).toHaveLength(20_000)
      expect(all[19_999]).toEqual(many[19_999])
    })
  })
}
