/**
 * The gateway through an outage, on the all-in-one service with its embedded SQLite store (a
 * throwaway data dir): two nodes report, the service goes away, readings queue on disk, the service
 * comes back and the backlog goes out with its original times.
 *
 *   npx tsx gateway/example.ts            # KAMPUNG_LOG_LEVEL=warn for less log
 */
import { mkdtempSync, rmSync } from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { KampungApp } from '../src/app.ts'
import { parseConfig } from '../src/config.ts'
import { Gateway } from './index.ts'

const MINUTE_MS = 60_000
const dir = mkdtempSync(path.join(os.tmpdir(), 'kampung-gateway-example-'))
const port = await new Promise<number>((resolve) => {
  const srv = net.createServer().listen(0, '127.0.0.1', () => {
    const { port } = srv.address() as net.AddressInfo
    srv.close(() => resolve(port))
  })
})
const config = parseConfig({
  dataDir: path.join(dir, 'service'),
  broker: { host: '127.0.0.1', port },
  api: { host: '127.0.0.1', port: 0 },
})
let app = new KampungApp(config)
await app.start()
app.registry.addVillage({ id: 'kemiren', name: 'Desa Kemiren' })
const secretOf = async (id: string, kind: 'soil' | 'weather' | 'gateway') =>
  (await app.registry.addDevice({ id, village: 'kemiren', kind, format: 'json' })).secret
const nodes = {
  'soil-01': { village: 'kemiren', secret: await secretOf('soil-01', 'soil') },
  'wx-01': { village: 'kemiren', secret: await secretOf('wx-01', 'weather') },
}
const gateway = new Gateway({
  gateway: { id: 'gw-kemiren', village: 'kemiren', secret: await secretOf('gw-kemiren', 'gateway') },
  url: `mqtt://127.0.0.1:${port}`,
  nodes,
  dataDir: path.join(dir, 'gateway'),
  reconnectBackoff: { initialMs: 200, maxMs: 1_000 },
})
await gateway.start()

const line = (what: string) => {
  const h = gateway.health()
  console.log(
    `${what.padEnd(28)} uplink=${h.uplink.state.padEnd(12)} queued=${String(h.queueDepth).padEnd(4)} forwarded=${h.forwarded}`,
  )
}
const until = async (check: () => boolean) => {
  while (!check()) await new Promise((r) => setTimeout(r, 20))
}
await until(() => gateway.health().uplink.state === 'connected')
gateway.submit('soil-01', { sensor: 'probe1', values: { soil_moisture: 31.5, soil_temperature: 27.2 } })
gateway.submit('wx-01', { sensor: 'bme280', values: { air_temperature: 29.5, relative_humidity: 81 } })
await until(() => gateway.health().queueDepth === 0)
line('2 readings submitted')

await app.stop()
await until(() => gateway.health().uplink.state !== 'connected')
const baseMs = Math.floor(Date.now() / MINUTE_MS) * MINUTE_MS - 600 * MINUTE_MS
for (let i = 0; i < 500; i++) {
  gateway.submit(
    'soil-01',
    { sensor: 'probe1', values: { soil_moisture: 30 - i / 100 } },
    baseMs + i * MINUTE_MS,
  )
}
line('service down, 500 submitted')

app = new KampungApp(config)
await app.start()
await until(() => gateway.health().queueDepth === 0)
line('service back, drained')
const stored = await app.store.query({
  quantity: 'soil_moisture',
  device: 'soil-01',
  fromMs: baseMs,
  toMs: baseMs + 500 * MINUTE_MS,
})
console.log(
  `stored ${stored.length} backlog readings, first ${new Date(stored[0]!.timeMs).toISOString()} ` +
    `last ${new Date(stored.at(-1)!.timeMs).toISOString()}`,
)
console.log('health:', JSON.stringify({ ...gateway.health(), nodes: undefined }))
await gateway.stop()
await app.stop()
rmSync(dir, { recursive: true, force: true })
