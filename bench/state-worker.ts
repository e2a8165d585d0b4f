/**
 * What one state worker (`kampung state`) keeps up with: a real Mosquitto, one `kampung state`
 * process with partition 0 of 2 (so it also receives and drops the other half, as in hash mode),
 * and publishers replaying soil reports of many villages as fast as QoS 1 allows. Measures the
 * messages per second the worker takes in (evaluated + dropped, from its /metrics) and the time
 * until it has evaluated everything it owns.
 * Run: npx tsx bench/state-worker.ts   (BENCH_VILLAGES, BENCH_DEVICES per village, BENCH_MESSAGES per device)
 * Writes bench/results/state-worker.{json,md}.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import mqtt from 'mqtt'
import { Directory, villageBucket } from '../src/alerts/index.ts'
import { Registry } from '../src/registry/index.ts'
import { SCHEMAS } from '../src/schemas.ts'
import { startMosquitto } from '../tests/harness/mosquitto.ts'
import { freePort } from '../tests/harness/ports.ts'
import { spawnKampung } from '../tests/harness/process.ts'

const VILLAGES = Number(process.env.BENCH_VILLAGES ?? 40)
const DEVICES = Number(process.env.BENCH_DEVICES ?? 5)
const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 200)
const READINGS_PER_MESSAGE = 3

const root = mkdtempSync(path.join(os.tmpdir(), 'kampung-bench-state-'))
const mosquitto = await startMosquitto()
const registryPath = path.join(root, 'registry.db')
const registry = new Registry({ path: registryPath, schemas: SCHEMAS })
await registry.start()
const directory = new Directory({ registry, quietHours: { start: '21:00', end: '06:00' } })
const villages = Array.from({ length: VILLAGES }, (_, i) => `desa-${String(i + 1).padStart(3, '0')}`)
for (const v of villages) {
  registry.addVillage({ id: v, name: v })
  const devices: string[] = []
  for (let d = 1; d <= DEVICES; d++) {
    devices.push(`${v}-soil${d}`)
    await registry.addDevice({ id: `${v}-soil${d}`, village: v, kind: 'soil', format: 'json' })
  }
  directory.addField({
    id: `${v}-sawah1`,
    village: v,
    name: 'SAWAH1',
    crop: 'chili',
    plantedAtMs: Date.now() - 60 * 86_400_000,
    areaHa: 0.15,
    devices,
  })
}
await registry.stop()
const owned = villages.filter((v) => villageBucket(v, 2) === 0).length

const apiPort = await freePort()
const configFile = path.join(root, 'state.json')
writeFileSync(configFile, JSON.stringify({ alerts: { partition: { index: 0, count: 2 } } }))
const worker = spawnKampung(['state', '--api'], {
  KAMPUNG_CONFIG: configFile,
  KAMPUNG_DATA_DIR: path.join(root, 'state'),
  KAMPUNG_REGISTRY_PATH: registryPath,
  KAMPUNG_INGEST_MQTT_URL: mosquitto.url,
  KAMPUNG_API_HOST: '127.0.0.1',
  KAMPUNG_API_PORT: String(apiPort),
  KAMPUNG_LOG_LEVEL: 'warn',
})
await worker.waitForOutput(/smart-kampung running/, 60_000)

const counts = async (): Promise<Record<string, number>> => {
  const text = await (await fetch(`http://127.0.0.1:${apiPort}/metrics`)).text()
  const out: Record<string, number> = {}
  for (const m of text.matchAll(/^kampung_state_messages_total\{outcome="([a-z_]+)"\} (\d+)/gm))
    out[m[1]!] = Number(m[2])
  return out
}

const total = VILLAGES * DEVICES * MESSAGES
const startMs = Date.now() - MESSAGES * 60_000
const t0 = performance.now()
await Promise.all(
  villages.flatMap((v) =>
    Array.from({ length: DEVICES }, async (_, d) => {
      const id = `${v}-soil${d + 1}`
      const client = await mqtt.connectAsync(mosquitto.url, { clientId: id, protocolVersion: 5 })
      const pending: Promise<unknown>[] = []
      for (let i = 0; i < MESSAGES; i++) {
        const payload = JSON.stringify({
          ts: startMs + i * 60_000,
          values: { soil_moisture: 30 - (i % 10) / 10, soil_temperature: 27, battery_voltage: 3.9 },
        })
        pending.push(client.publishAsync(`kampung/${v}/${id}/up`, payload, { qos: 1 }))
        if (pending.length >= 20) await pending.shift()
      }
      await Promise.all(pending)
      await client.endAsync()
    }),
  ),
)
const publishedS = (performance.now() - t0) / 1000
let c: Record<string, number> = {}
for (;;) {
  c = await counts()
  if ((c.evaluated ?? 0) + (c.not_owned ?? 0) >= total) break
  await new Promise((r) => setTimeout(r, 100))
}
const doneS = (performance.now() - t0) / 1000
await worker.kill('SIGTERM')
await mosquitto.stop()
rmSync(root, { recursive: true, force: true })

const result = {
  date: new Date().toISOString().slice(0, 10),
  villages: VILLAGES,
  ownedVillages: owned,
  devicesPerVillage: DEVICES,
  messages: total,
  readingsPerMessage: READINGS_PER_MESSAGE,
  evaluated: c.evaluated ?? 0,
  notOwned: c.not_owned ?? 0,
  publishedInS: Number(publishedS.toFixed(2)),
  doneInS: Number(doneS.toFixed(2)),
  messagesPerS: Math.round(total / doneS),
  evaluatedReadingsPerS: Math.round(((c.evaluated ?? 0) * READINGS_PER_MESSAGE) / doneS),
}
console.log(JSON.stringify(result, null, 2))
const dir = path.join(import.meta.dirname, 'results')
writeFileSync(path.join(dir, 'state-worker.json'), `${JSON.stringify(result, null, 2)}\n`)
writeFileSync(
  path.join(dir, 'state-worker.md'),
  `# One state worker (\`kampung state\`, partition 0 of 2), ${result.date}

| villages (owned) | messages (readings each) | evaluated / dropped (not owned) | all taken in | messages/s taken in | owned readings/s evaluated |
|---|---|---|---|---|---|
| ${VILLAGES} (${owned}) | ${total} (${READINGS_PER_MESSAGE}) | ${result.evaluated} / ${result.notOwned} | ${result.doneInS} s | ${result.messagesPerS} | ${result.evaluatedReadingsPerS} |

Mosquitto, the publishers (${VILLAGES * DEVICES} QoS 1 clients, 20 in flight each) and the worker share
the machine's 2 cores; the rate is a floor, not the worker's limit alone. Every message is
acknowledged only after its readings are committed to the registry's SQLite.
`,
)
