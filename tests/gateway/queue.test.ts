import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { GatewayQueue, type QueueEntry } from '../../gateway/queue.ts'

const entry = (ts: number, soil = 30): QueueEntry => ({ ts, sensor: 'main', values: { soil_moisture: soil } })

describe('GatewayQueue', () => {
  const dirs: string[] = []
  const open = (opts: { dir?: string; maxEntries?: number; maxBytes?: number; maxAcks?: number } = {}) => {
    const dir = opts.dir ?? mkdtempSync(path.join(os.tmpdir(), 'kampung-gwq-'))
    if (!opts.dir) dirs.push(dir)
    const q = new GatewayQueue({ ...opts, dir })
    q.start()
    return { q, dir }
  }
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
  })

  it('peeks the oldest entries per device, in order, without removing them; ack removes only those ids', () => {
    const { q } = open()
    q.enqueue('a', [entry(1), entry(2)])
    q.enqueue('b', [entry(10)])
    q.enqueue('a', [entry(3)])
    const batches = q.peek(2)
    expect(batches.map((b) => [b.device, b.entries.map((e) => e.ts)])).toEqual([
      ['a', [1, 2]],
      ['b', [10]],
    ])
    expect(batches[0]!.bytes).toBe(`[${batches[0]!.entries.map((e) => e.json).join(',')}]`.length)
    expect(JSON.parse(batches[0]!.entries[0]!.json)).toEqual(entry(1))
    expect(q.depth()).toBe(4)
    // In flight up to the second entry of `a`: the next peek starts after it.
    const next = q.peek(10, { device: 'a', afterId: batches[0]!.entries[1]!.id })
    expect(next[0]!.entries.map((e) => e.ts)).toEqual([3])
    q.ack(batches[0]!.entries.map((e) => e.id))
    q.ack(batches[0]!.entries.map((e) => e.id)) // twice: no harm
    expect(q.depth()).toBe(2)
    expect(q.peek(10).map((b) => [b.device, b.entries.map((e) => e.ts)])).toEqual([
      ['b', [10]],
      ['a', [3]],
    ])
  })

  it('cuts a batch at maxBytes but always yields at least one entry', () => {
    const { q } = open()
    q.enqueue(
      'a',
      Array.from({ length: 100 }, (_, i) => entry(i)),
    )
    const [batch] = q.peek(200, { maxBytes: 500 })
    expect(batch!.bytes).toBeLessThanOrEqual(500)
    expect(batch!.entries.length).toBeGreaterThan(1)
    expect(batch!.entries.length).toBeLessThan(100)
    expect(q.peek(200, { maxBytes: 1 })[0]!.entries).toHaveLength(1)
  })

  it('survives a reopen (what was enqueued is on disk) and keeps the counts', () => {
    const { q, dir } = open()
    q.enqueue('a', [entry(1), entry(2)])
    q.stop()
    const again = new GatewayQueue({ dir })
    again.start()
    expect(again.depth()).toBe(2)
    expect(again.stats().bytes).toBeGreaterThan(0)
    expect(again.peek(10)[0]!.entries.map((e) => e.ts)).toEqual([1, 2])
    again.stop()
  })

  it('when full refuses new entries (counted), keeps the backlog, and takes entries again after acks', () => {
    const { q } = open({ maxEntries: 3 })
    expect(q.enqueue('a', [entry(1), entry(2), entry(3)]).ok).toBe(true)
    expect(q.enqueue('a', [entry(4)])).toMatchObject({ ok: false, reason: 'queue_full' })
    expect(q.enqueue('b', [entry(5), entry(6)])).toMatchObject({ ok: false, reason: 'queue_full' })
    expect(q.stats()).toMatchObject({ entries: 3, refusedFull: 3 })
    expect(q.peek(10)[0]!.entries.map((e) => e.ts)).toEqual([1, 2, 3])
    q.ack([q.peek(1)[0]!.entries[0]!.id])
    expect(q.enqueue('a', [entry(7)]).ok).toBe(true)
    expect(q.peek(10)[0]!.entries.map((e) => e.ts)).toEqual([2, 3, 7])
  })

  it('is bounded by bytes as well', () => {
    const { q } = open({ maxBytes: 200 })
    expect(q.enqueue('a', [entry(1), entry(2)]).ok).toBe(true)
    expect(q.enqueue('a', [entry(3), entry(4), entry(5)])).toMatchObject({ ok: false, reason: 'queue_full' })
    expect(q.stats().bytes).toBeLessThanOrEqual(200)
  })

  it('keeps command answers per node across a reopen until sent, apart from readings, and bounded', () => {
    const { q, dir } = open({ maxAcks: 3 })
    q.enqueue('a', [entry(1)])
    expect(q.enqueueAck('a', '{"id":"c-1","ok":true}')).toMatchObject({ ok: true })
    expect(q.enqueueAck('b', '{"id":"c-2","ok":false,"error":"no valve"}')).toMatchObject({ ok: true })
    expect(q.enqueueAck('a', '{"id":"c-3","ok":true}')).toMatchObject({ ok: true })
    expect(q.enqueueAck('a', '{"id":"c-4","ok":true}')).toMatchObject({ ok: false, reason: 'queue_full' })
    expect(q.depth()).toBe(1) // readings are counted apart
    q.stop()
    const again = new GatewayQueue({ dir, maxAcks: 3 })
    again.start()
    try {
      expect(again.ackDepth()).toBe(3)
      const of = again.acksOf('a')
      expect(of.map((a) => JSON.parse(a.json).id)).toEqual(['c-1', 'c-3'])
      again.ackSent(of[0]!.id)
      again.ackSent(of[0]!.id) // twice: no harm
      expect(again.acksOf('a').map((a) => JSON.parse(a.json).id)).toEqual(['c-3'])
      expect(again.acksOf('b').map((a) => a.json)).toEqual(['{"id":"c-2","ok":false,"error":"no valve"}'])
      expect(again.enqueueAck('a', '{"id":"c-4","ok":true}')).toMatchObject({ ok: true })
      expect(again.depth()).toBe(1)
    } finally {
      again.stop()
    }
  })
})
