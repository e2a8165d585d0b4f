import { describe, expect, it } from 'vitest'
import { KampungError } from '../../src/errors.ts'
import { WriteBatcher } from '../../src/ingest/batcher.ts'
import { type IngestOutcome, IngestPipeline } from '../../src/ingest/pipeline.ts'
import { Metrics } from '../../src/metrics.ts'
import { type ReadingQuery, StorePartialWriteError, type TelemetryStore } from '../../src/store/types.ts'
import type { Reading } from '../../src/telemetry/reading.ts'

/** A store whose writes finish only when the test says so. */
class GatedStore implements TelemetryStore {
  readonly name = 'gated'
  writes: Reading[][] = []
  private gates: Array<{ resolve: () => void; reject: (e: unknown) => void }> = []
  async start() {}
  async stop() {}
  write(readings: readonly Reading[]): Promise<void> {
    this.writes.push([...readings])
    return new Promise((resolve, reject) => this.gates.push({ resolve, reject }))
  }
  open(n = 1) {
    for (const g of this.gates.splice(0, n)) g.resolve()
  }
  /** Finish the i-th still-open write (out of order). */
  openAt(i: number) {
    this.gates.splice(i, 1)[0]!.resolve()
  }
  fail(err: unknown) {
    for (const g of this.gates.splice(0)) g.reject(err)
  }
  async query(_q: ReadingQuery) {
    return []
  }
  async count(_q: ReadingQuery) {
    return 0
  }
}

const reading = (i: number): Reading => ({
  timeMs: 1_700_000_000_000 + i,
  village: 'v1',
  device: 'd1',
  sensor: 'main',
  quantity: 'soil_moisture',
  value: i % 100,
})
const tick = () => new Promise((r) => setTimeout(r, 5))
/** The batcher's callback as a promise, for the tests. */
const add = (b: WriteBatcher, readings: Reading[]) =>
  new Promise<void>((resolve, reject) =>
    b.add(readings, (failed, error) => (failed ? reject(error) : resolve())),
  )

describe('WriteBatcher', () => {
  it('resolves a message only once the write holding its readings is durable', async () => {
    const store = new GatedStore()
    const b = new WriteBatcher({ store, maxReadings: 10, maxWaitMs: 1, maxPending: 1000 })
    let done = false
    const p = add(b, [reading(1), reading(2)]).then(() => {
      done = true
    })
    await tick()
    expect(store.writes).toHaveLength(1)
    expect(done).toBe(false)
    store.open()
    await p
    expect(done).toBe(true)
  })

  it('keeps one write in flight and batches what arrives meanwhile into the next write', async () => {
    const store = new GatedStore()
    const b = new WriteBatcher({
      store,
      maxReadings: 4,
      maxWaitMs: 1,
      maxPending: 1000,
      maxWritesInFlight: 1,
    })
    const first = add(b, [reading(0), reading(1), reading(2), reading(3)])
    await tick()
    const rest = [add(b, [reading(4)]), add(b, [reading(5)]), add(b, [reading(6), reading(7)])]
    await tick()
    expect(store.writes).toHaveLength(1)
    store.open()
    await first
    await tick()
    expect(store.writes).toHaveLength(2)
    expect(store.writes[1]).toHaveLength(4)
    store.open()
    await Promise.all(rest)
  })

  it('applies backpressure instead of buffering without limit', async () => {
    const store = new GatedStore()
    const b = new WriteBatcher({ store, maxReadings: 2, maxWaitMs: 1, maxPending: 4 })
    const accepted: number[] = []
    const adds = [0, 1, 2, 3, 4].map((i) =>
      add(b, [reading(2 * i), reading(2 * i + 1)]).then(() => accepted.push(i)),
    )
    await tick()
    expect(b.pending).toBeLessThanOrEqual(4)
    for (let i = 0; i < 5; i++) {
      store.open()
      await tick()
      expect(b.pending).toBeLessThanOrEqual(4)
    }
    await Promise.all(adds)
    expect(accepted.sort()).toEqual([0, 1, 2, 3, 4])
    expect(store.writes.flat()).toHaveLength(10)
  })

  it('rejects every message of a failed write so none is acknowledged', async () => {
    const store = new GatedStore()
    const b = new WriteBatcher({ store, maxReadings: 100, maxWaitMs: 1, maxPending: 1000 })
    const a = add(b, [reading(1)])
    const c = add(b, [reading(2)])
    await tick()
    store.fail(new KampungError('disk', 'disk full', { retryable: false }))
    await expect(a).rejects.toThrow('disk full')
    await expect(c).rejects.toThrow('disk full')
  })

  it('drain waits for everything accepted', async () => {
    const store = new GatedStore()
    const b = new WriteBatcher({ store, maxReadings: 100, maxWaitMs: 1000, maxPending: 1000 })
    void add(b, [reading(1)])
    let drained = false
    const d = b.drain().then(() => {
      drained = true
    })
    await tick()
    expect(store.writes).toHaveLength(1)
    expect(drained).toBe(false)
    store.open()
    await d
    expect(drained).toBe(true)
  })
})

describe('WriteBatcher write size', () => {
  it('writes at most maxReadings per store write and resolves a message spanning two writes after both', async () => {
    const store = new GatedStore()
    const b = new WriteBatcher({
      store,
      maxReadings: 3,
      maxWaitMs: 1,
      maxPending: 1000,
      maxWritesInFlight: 1,
    })
    const first = add(b, [reading(1), reading(2)])
    const spanning = add(b, [reading(3), reading(4), reading(5)]) // readings 3 | 4, 5 split across writes
    let spanningDone = false
    void spanning.then(() => {
      spanningDone = true
    })
    await tick()
    expect(store.writes.map((w) => w.length)).toEqual([3])
    store.open()
    await first
    await tick()
    expect(spanningDone).toBe(false)
    expect(store.writes.map((w) => w.length)).toEqual([3, 2])
    store.open()
    await spanning
  })

  it('a failed write rejects every message with a reading in it, and only those', async () => {
    const store = new GatedStore()
    const b = new WriteBatcher({
      store,
      maxReadings: 3,
      maxWaitMs: 1,
      maxPending: 1000,
      maxWritesInFlight: 1,
    })
    const a = add(b, [reading(1), reading(2)])
    const spanning = add(b, [reading(3), reading(4)])
    const later = add(b, [reading(5)])
    await tick()
    store.fail(new KampungError('down', 'store down', { retryable: true }))
    await expect(a).rejects.toThrow('store down')
    await expect(spanning).rejects.toThrow('store down')
    await tick()
    store.open()
    await later
    expect(store.writes.map((w) => w.length)).toEqual([3, 2])
  })
})

describe('WriteBatcher with two writes in flight', () => {
  it('acknowledges a message only after every write holding its readings, whatever order writes finish in', async () => {
    const store = new GatedStore()
    const b = new WriteBatcher({
      store,
      maxReadings: 2,
      maxWaitMs: 1,
      maxPending: 1000,
      maxWritesInFlight: 2,
    })
    const done: string[] = []
    const track = (name: string, p: Promise<void>) => p.then(() => done.push(name))
    const a = track('a', add(b, [reading(1)]))
    const spanning = track('spanning', add(b, [reading(2), reading(3)])) // write 1 | write 2
    const c = track('c', add(b, [reading(4)]))
    await tick()
    expect(store.writes.map((w) => w.length)).toEqual([2, 2])
    store.openAt(1) // write 2 finishes first: nothing may be acknowledged yet (a, spanning need write 1)
    await tick()
    expect(done).toEqual([])
    store.open() // write 1
    await Promise.all([a, spanning, c])
    expect(done.sort()).toEqual(['a', 'c', 'spanning'])
  })
})

describe('WriteBatcher maxWritesInFlight, the one limit of the write path', () => {
  for (const limit of [1, 2, 8]) {
    it(`keeps exactly ${limit} store writes in flight when given ${limit}`, async () => {
      const store = new GatedStore()
      const b = new WriteBatcher({
        store,
        maxReadings: 1,
        maxWaitMs: 1,
        maxPending: 1000,
        maxWritesInFlight: limit,
      })
      const adds = Array.from({ length: 20 }, (_, i) => add(b, [reading(i)]))
      await tick()
      expect(store.writes).toHaveLength(limit)
      store.open()
      await tick()
      expect(store.writes).toHaveLength(limit + 1)
      while (store.writes.length < 20) {
        store.open(limit)
        await tick()
      }
      store.open(limit)
      await Promise.all(adds)
    })
  }

  it('calls back after the add returns, never from inside it', async () => {
    const b = new WriteBatcher({ store: new GatedStore(), maxReadings: 1, maxWaitMs: 1, maxPending: 10 })
    let called = false
    b.add([], () => {
      called = true
    })
    expect(called).toBe(false)
    await tick()
    expect(called).toBe(true)
  })
})

describe('IngestPipeline over the batcher', () => {
  const device = {
    id: 'd1',
    village: 'v1',
    kind: 'soil',
    format: 'json',
  } as unknown as import('../../src/registry/types.ts').Device

  it('handle: a report without ts gets the received time; the outcome comes once durable; a failed write gives the error', async () => {
    const store = new GatedStore()
    const pipeline = new IngestPipeline({
      store,
      metrics: new Metrics(),
      batchMaxReadings: 100,
      batchMaxWaitMs: 1,
      maxPendingReadings: 1000,
    })
    await pipeline.start()
    const receivedAtMs = Date.UTC(2026, 10, 28, 3)
    let settled = false
    const outcome = new Promise<IngestOutcome>((resolve, reject) =>
      pipeline.handle(
        device,
        Buffer.from('{"values":{"soil_moisture":31.5,"x":1}}'),
        'kampung/v1/d1/up',
        'mqtt',
        receivedAtMs,
        (err, o) => {
          settled = true
          return o ? resolve(o) : reject(err)
        },
      ),
    )
    await until(() => store.writes.length === 1)
    expect(store.writes[0]!.map((r) => r.timeMs)).toEqual([receivedAtMs])
    await new Promise((r) => setTimeout(r, 20))
    expect(settled).toBe(false) // not before the write is durable
    store.open()
    const o = await outcome
    expect(o.accepted).toBe(1)
    expect(o.rejected.map((e) => e.reason)).toEqual(['unknown_quantity'])

    const failed = new Promise<unknown>((resolve) =>
      pipeline.handle(
        device,
        Buffer.from('{"values":{"soil_moisture":30}}'),
        't',
        'mqtt',
        Date.now(),
        (err, outcome) => resolve(outcome ?? err),
      ),
    )
    await until(() => store.writes.length === 2)
    store.fail(new KampungError('store_unreachable', 'down', { retryable: true }))
    expect(await failed).toBeInstanceOf(KampungError)
  })
})

async function until(check: () => boolean): Promise<void> {
  const deadline = Date.now() + 5_000
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out')
    await new Promise((r) => setTimeout(r, 2))
  }
}

describe('WriteBatcher: a partial write is settled per message', () => {
  it('acknowledges every message, each told only its own refused readings, also across writes', async () => {
    const store = new GatedStore()
    // maxReadings 4: message B (3 readings) spans the first and the second write.
    const b = new WriteBatcher({ store, maxReadings: 4, maxWaitMs: 1, maxPending: 1000 })
    const settled: Record<
      string,
      { failed: boolean; refused?: readonly { index: number; message: string }[] }
    > = {}
    const addNamed = (name: string, readings: Reading[]) =>
      b.add(readings, (failed, _error, refused) => {
        settled[name] = { failed, refused }
      })
    addNamed('A', [reading(0), reading(1)])
    addNamed('B', [reading(2), reading(3), reading(4)])
    addNamed('C', [reading(5), reading(6)])
    await tick()
    expect(store.writes.map((w) => w.length)).toEqual([4, 3])
    // First write: index 1 (A's second) and 3 (B's second) refused; second write: index 1 (C's first).
    const gates = (store as unknown as { gates: Array<{ reject: (e: unknown) => void }> }).gates
    gates[0]!.reject(
      new StorePartialWriteError('partial', [
        { index: 3, message: 'beyond retention' },
        { index: 1, message: 'beyond retention' },
      ]),
    )
    gates[1]!.reject(new StorePartialWriteError('partial', [{ index: 1, message: 'beyond retention' }]))
    await tick()
    expect(settled.A).toEqual({ failed: false, refused: [{ index: 1, message: 'beyond retention' }] })
    expect(settled.B).toEqual({ failed: false, refused: [{ index: 1, message: 'beyond retention' }] })
    expect(settled.C).toEqual({ failed: false, refused: [{ index: 0, message: 'beyond retention' }] })
  })

  it('the pipeline acknowledges, counts the refused readings as store_refused and does not pass them on', async () => {
    const store = new GatedStore()
    const metrics = new Metrics()
    const pipeline = new IngestPipeline({
      store,
      metrics,
      batchMaxReadings: 100,
      batchMaxWaitMs: 1,
      maxPendingReadings: 1000,
    })
    await pipeline.start()
    const stored: Reading[] = []
    pipeline.onStored((r) => stored.push(...r))
    const device = { id: 'd1', village: 'v1', kind: 'soil', format: 'json' } as never
    const now = Date.now()
    const outcome = new Promise<IngestOutcome | undefined>((resolve, reject) =>
      pipeline.handle(
        device,
        Buffer.from(
          JSON.stringify([
            { ts: now - 1000, values: { soil_moisture: 20 } },
            { ts: now, values: { soil_moisture: 21 } },
          ]),
        ),
        'kampung/v1/d1/up',
        'mqtt',
        now,
        (err, o) => (err ? reject(err) : resolve(o)),
      ),
    )
    await tick()
    const gates = (store as unknown as { gates: Array<{ reject: (e: unknown) => void }> }).gates
    gates[0]!.reject(new StorePartialWriteError('partial', [{ index: 0, message: 'refused by InfluxDB' }]))
    expect(await outcome).toEqual({
      accepted: 1,
      rejected: [
        { path: '$', reason: 'store_refused', message: expect.stringMatching(/refused by InfluxDB$/) },
      ],
    })
    expect(stored.map((r) => r.value)).toEqual([21])
    expect(await metrics.registry.getSingleMetricAsString('kampung_readings_rejected_total')).toMatch(
      /reason="store_refused"} 1/,
    )
  })
})
