import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { InfluxStore, SpoolingStore, type SpoolWriteEvent } from '../../src/store/index.ts'
import type { Reading } from '../../src/telemetry/reading.ts'
import { type InfluxdHandle, startInfluxd } from '../harness/influxd.ts'
import { BASE_MS, reading } from './contract.ts'

let influxd: InfluxdHandle
const dirs: string[] = []

beforeAll(async () => {
  influxd = await startInfluxd()
})
afterAll(async () => {
  await influxd?.stop()
  for (const dir of dirs) await rm(dir, { recursive: true, force: true })
})
afterEach(async () => {
  // A test that fails half way must not leave influxd down for the next one.
  const alive = await fetch(`${influxd.url}/ping`).then(
    (r) => r.status === 204,
    () => false,
  )
  if (!alive) await influxd.restart()
})

async function spoolDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'kampung-spool-'))
  dirs.push(dir)
  return dir
}

function spoolingStore(database: string, dir: string, onWrite?: (e: SpoolWriteEvent) => void): SpoolingStore {
  const inner = new InfluxStore({ url: influxd.url, database, requestTimeoutMs: 5_000 })
  // Short backoff cap so the test does not sit out a 10 s retry after influxd is back.
  return new SpoolingStore({ inner, dir, initialBackoffMs: 50, maxBackoffMs: 500, onWrite })
}

async function until(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

function batchOf(start: number, size: number): Reading[] {
  return Array.from({ length: size }, (_, k) => {
    const i = start + k
    return reading({ timeMs: BASE_MS + i * 7, device: `node-${i % 40}`, sensor: `s${i % 3}`, value: i / 4 })
  })
}

describe('SpoolingStore over InfluxStore on a real influxd', () => {
  it('spools while influxd is killed and drains every reading exactly once when it is back', async () => {
    const events: SpoolWriteEvent[] = []
    const store = spoolingStore('kampung_spool_1', await spoolDir(), (e) => events.push(e))
    await store.start()
    await store.write(batchOf(0, 100))
    expect(events.at(-1)?.path).toBe('direct')

    await influxd.kill('SIGKILL')
    const total = 10_000
    const batchSize = 100
    for (let start = 100; start < 100 + total; start += batchSize) {
      await store.write(batchOf(start, batchSize)) // resolves = durable in the spool
    }
    expect(store.spoolDepth()).toMatchObject({ batches: total / batchSize, readings: total, deadBatches: 0 })
    expect(events.filter((e) => e.path === 'spooled')).toHaveLength(total / batchSize)

    await influxd.restart()
    await until('spool drained', () => store.spoolDepth().batches === 0)
    expect(store.spoolDepth()).toEqual({ batches: 0, readings: 0, deadBatches: 0 })

    const all = batchOf(0, 100 + total)
    expect(await store.count({ quantity: 'soil_moisture' })).toBe(all.length)
    expect(await store.count({ quantity: 'soil_moisture', device: 'node-7' })).toBe(
      all.filter((r) => r.device === 'node-7').length,
    )
    for (const i of [100, 5_123, 10_099]) {
      const r = all[i]!
      expect(await store.query({ quantity: 'soil_moisture', fromMs: r.timeMs, toMs: r.timeMs + 1 })).toEqual([
        r,
      ])
    }
    // Back to direct writes once drained.
    await store.write(batchOf(20_000, 10))
    expect(events.at(-1)?.path).toBe('direct')
    await store.stop()
  })

  it('leaves an undrained spool on disk at stop, and a new store on that dir drains it at start', async () => {
    const dir = await spoolDir()
    const first = spoolingStore('kampung_spool_2', dir)
    await first.start()
    await influxd.kill('SIGKILL')
    for (let start = 0; start < 3_000; start += 500) await first.write(batchOf(start, 500))
    await first.stop()

    await influxd.restart()
    const second = spoolingStore('kampung_spool_2', dir)
    await second.start()
    expect(second.spoolDepth().readings).toBeGreaterThan(0)
    await until('spool drained', () => second.spoolDepth().batches === 0)
    expect(await second.count({ quantity: 'soil_moisture' })).toBe(3_000)
    await second.stop()
  })

  it('starts while influxd is down (spooling), creates the schema and drains once it is up', async () => {
    await influxd.kill('SIGKILL')
    const store = spoolingStore('kampung_spool_3', await spoolDir())
    await store.start()
    await store.write(batchOf(0, 50))
    expect(store.spoolDepth().readings).toBe(50)
    await influxd.restart()
    await until('spool drained', () => store.spoolDepth().batches === 0)
    expect(await store.count({ quantity: 'soil_moisture' })).toBe(50)
    await store.stop()
  })

  it('spools writes that arrive together while influxd is down, and drains them all', async () => {
    const store = spoolingStore('kampung_spool_4', await spoolDir())
    await store.start()
    await influxd.kill('SIGKILL')
    // Eight writes at once, as the batcher sends them with ingest.maxWritesInFlight: 8.
    await Promise.all(Array.from({ length: 8 }, (_, w) => store.write(batchOf(w * 200, 200))))
    expect(store.spoolDepth()).toMatchObject({ batches: 8, readings: 1_600 })
    await influxd.restart()
    await until('spool drained', () => store.spoolDepth().batches === 0)
    expect(await store.count({ quantity: 'soil_moisture' })).toBe(1_600)
    await store.stop()
  })
})
