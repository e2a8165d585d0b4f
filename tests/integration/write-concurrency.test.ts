import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { type IngestOutcome, IngestPipeline } from '../../src/ingest/index.ts'
import { Metrics } from '../../src/metrics.ts'
import type { Device } from '../../src/registry/types.ts'
import { InfluxStore, SpoolingStore } from '../../src/store/index.ts'

/**
 * `ingest.maxWritesInFlight` is the write path's one concurrency limit and is honoured over its
 * whole range: with the stores of `kampung up` (spool over InfluxDB), exactly that many /write
 * requests reach InfluxDB at once. (The stores used to cap it silently at 2.)
 */

const device = { id: 'node-01', village: 'kemiren', kind: 'soil', format: 'json' } as unknown as Device
const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

/** An InfluxDB stand-in that holds every /write until the test releases them, counting them. */
async function heldInflux() {
  const held: ServerResponse[] = []
  let release = false
  let open = 0
  let maxOpen = 0
  let written = 0
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume()
    req.on('end', () => {
      if (req.url?.startsWith('/write')) {
        written++
        open++
        maxOpen = Math.max(maxOpen, open)
        res.on('finish', () => open--)
        if (release) res.writeHead(204).end()
        else held.push(res)
        return
      }
      // SHOW RETENTION POLICIES (manageSchema: false checks that `raw` exists).
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          results: [{ series: [{ columns: ['name', 'default'], values: [['raw', true]] }] }],
        }),
      )
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  cleanups.push(async () => {
    server.closeAllConnections()
    server.close()
  })
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get open() {
      return open
    },
    get maxOpen() {
      return maxOpen
    },
    get written() {
      return written
    },
    releaseAll() {
      release = true
      for (const res of held.splice(0)) res.writeHead(204).end()
    },
  }
}

describe('ingest.maxWritesInFlight over the real stores', () => {
  for (const limit of [1, 2, 8]) {
    it(`${limit}: exactly ${limit} /write requests in flight, and every message durable`, async () => {
      const influx = await heldInflux()
      const dir = await mkdtemp(join(tmpdir(), 'kampung-wc-'))
      const store = new SpoolingStore({
        inner: new InfluxStore({ url: influx.url, database: 'kampung', manageSchema: false }),
        dir,
      })
      await store.start()
      const pipeline = new IngestPipeline({
        store,
        metrics: new Metrics(),
        batchMaxReadings: 1, // one write per message
        batchMaxWaitMs: 1,
        maxPendingReadings: 1000,
        maxWritesInFlight: limit,
      })
      await pipeline.start()
      cleanups.push(async () => {
        await pipeline.stop()
        await store.stop()
        await rm(dir, { recursive: true, force: true })
      })

      const t0 = Date.UTC(2026, 10, 28, 3)
      const outcomes = Array.from(
        { length: 40 },
        (_, i) =>
          new Promise<IngestOutcome>((resolve, reject) =>
            pipeline.handle(
              device,
              Buffer.from('{"values":{"soil_moisture":30}}'),
              't',
              'mqtt',
              t0 + i,
              (err, o) => (o ? resolve(o) : reject(err)),
            ),
          ),
      )
      const deadline = Date.now() + 5_000
      while (influx.open < limit && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5))
      await new Promise((r) => setTimeout(r, 100)) // room for more, if anything would send more
      expect(influx.open).toBe(limit)
      influx.releaseAll()
      expect((await Promise.all(outcomes)).every((o) => o.accepted === 1)).toBe(true)
      expect(influx.maxOpen).toBe(limit)
      expect(influx.written).toBe(40)
      expect(store.spoolDepth().readings).toBe(0)
    })
  }
})
