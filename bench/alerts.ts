/**
 * Alert engine latency under load: `npx tsx bench/alerts.ts` (about 30 s).
 *
 * A district of BENCH_VILLAGES villages × BENCH_FIELDS fields (one soil node each, one farmer
 * each, a weather station per village) gets a background load of BENCH_RATE readings/s in messages
 * of 5 readings, handed to the engine the way the service wires it: IngestPipeline.onStored calls
 * once per stored message → enqueueReadings (gathered for 25 ms, evaluated together). Every 200 ms
 * one field's moisture crosses its dry threshold (for 0, group wait 0). Latency is measured from
 * the moment the stored message is handed to the engine to the SMS being given to the outbox, i.e.
 * the engine's share of "reading published → SMS submitted" (the broker/ingest share is in the
 * ingest benchmark; the SMS gateway's in notify's).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { AlertEngine, type OutboxPort, parseAlertsConfig } from '../src/alerts/index.ts'
import { Registry } from '../src/registry/index.ts'
import { SCHEMAS } from '../src/schemas.ts'
import type { Reading } from '../src/telemetry/reading.ts'

const VILLAGES = Number(process.env.BENCH_VILLAGES ?? 41)
const FIELDS = Number(process.env.BENCH_FIELDS ?? 25)
const RATE = Number(process.env.BENCH_RATE ?? 5000)
const SECONDS = Number(process.env.BENCH_SECONDS ?? 20)
const alertsConfig = parseAlertsConfig({
  groupWaitMs: 0,
  quietHours: { start: '00:00', end: '00:00' },
  rules: { crops: { chili: { dry: { forMs: 0 } } } },
})
/** The service's window (alerts.batchMaxWaitMs), as enqueueReadings gathers them. */
const BATCH_WINDOW_MS = alertsConfig.batchMaxWaitMs
const CROSS_EVERY_MS = 200

const dir = mkdtempSync(path.join(os.tmpdir(), 'kampung-bench-alerts-'))
const registry = new Registry({ path: path.join(dir, 'registry.db'), schemas: SCHEMAS })
await registry.start()
const submitted = new Map<string, number>()
const outbox: OutboxPort = {
  enqueue(m) {
    submitted.set(m.to, performance.now())
    return { id: submitted.size, state: 'queued', duplicate: false }
  },
  onInbound() {},
}
const engine = new AlertEngine({
  registry,
  outbox,
  config: alertsConfig,
  timers: false,
})
await engine.start()
const db = registry.database()
const phoneOf = (v: number, f: number) => `+62812${String(v).padStart(3, '0')}${String(f).padStart(4, '0')}`
db.transaction(() => {
  for (let v = 0; v < VILLAGES; v++) {
    registry.addVillage({ id: `v${v}`, name: `Village ${v}` })
    for (let f = 0; f < FIELDS; f++) {
      // Devices straight into the table: scrypt per device would dominate the setup, not the run.
      db.prepare(
        "INSERT INTO devices (id, village, kind, format, secret_hash, created_at_ms) VALUES (?, ?, 'soil', 'json', 'x', 0)",
      ).run(`v${v}-s${f}`, `v${v}`)
      db.prepare(
        `INSERT INTO fields (id, village, name, crop, stage, area_ha, devices, created_at_ms)
         VALUES (?, ?, ?, 'chili', 'mid', 0.2, ?, 0)`,
      ).run(`v${v}-f${f}`, `v${v}`, `F${f}`, JSON.stringify([`v${v}-s${f}`]))
      engine.directory.addFarmer({ id: `p${v}-${f}`, name: 'Petani', phone: phoneOf(v, f) })
      engine.directory.subscribe(`p${v}-${f}`, `v${v}-f${f}`)
    }
  }
})()

const perBatch = Math.round((RATE * BATCH_WINDOW_MS) / 1000)
const latencies: number[] = []
let busyMs = 0
let readings = 0
let cursor = 0
let crossings = 0
const dry = new Set<number>()
const pending: Array<{ phone: string; handedAt: number }> = []
// Engine time: the evaluations enqueueReadings schedules.
const evaluate = engine.onReadings.bind(engine)
engine.onReadings = (rs) => {
  const t = performance.now()
  evaluate(rs)
  busyMs += performance.now() - t
}
const started = performance.now()
let nextCross = started
let lastTick = started
while (performance.now() - started < SECONDS * 1000) {
  const windowStart = performance.now()
  const now = Date.now()
  const batch: Reading[] = []
  for (let i = 0; i < perBatch; i++) {
    const k = cursor++ % (VILLAGES * FIELDS)
    const v = Math.floor(k / FIELDS)
    const f = k % FIELDS
    if (i % 50 === 0) {
      batch.push({
        timeMs: now,
        village: `v${v}`,
        device: `v${v}-wx`,
        sensor: 'main',
        quantity: 'air_temperature',
        value: 30,
      })
    } else {
      batch.push({
        timeMs: now,
        village: `v${v}`,
        device: `v${v}-s${f}`,
        sensor: 'main',
        quantity: 'soil_moisture',
        // A field that crossed stays dry: its background readings must not undo the crossing.
        value: dry.has(k) ? 15 : 30,
      })
    }
  }
  if (windowStart >= nextCross) {
    nextCross += CROSS_EVERY_MS
    const k = (crossings * 7919) % (VILLAGES * FIELDS) // a different field each time
    crossings++
    dry.add(k)
    const v = Math.floor(k / FIELDS)
    const f = k % FIELDS
    batch.push({
      timeMs: now,
      village: `v${v}`,
      device: `v${v}-s${f}`,
      sensor: 'main',
      quantity: 'soil_moisture',
      value: 15,
    })
    pending.push({ phone: phoneOf(v, f), handedAt: performance.now() })
  }
  if (performance.now() - lastTick >= 1000) {
    engine.tick(Date.now())
    lastTick = performance.now()
  }
  // One onStored call per message of 5 readings (the crossing is the last one).
  for (let i = 0; i < batch.length; i += 5) engine.enqueueReadings(batch.slice(i, i + 5))
  readings += batch.length
  const wait = BATCH_WINDOW_MS - (performance.now() - windowStart)
  await new Promise((r) => setTimeout(r, Math.max(0, wait)))
  for (let i = pending.length - 1; i >= 0; i--) {
    const p = pending[i]!
    const at = submitted.get(p.phone)
    if (at !== undefined && at >= p.handedAt) {
      latencies.push(at - p.handedAt)
      pending.splice(i, 1)
    }
  }
}
engine.drainBuffer()
for (const p of pending) {
  const at = submitted.get(p.phone)
  if (at !== undefined && at >= p.handedAt) latencies.push(at - p.handedAt)
}
const wallS = (performance.now() - started) / 1000
latencies.sort((a, b) => a - b)
const q = (p: number) =>
  latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? Number.NaN
const result = {
  villages: VILLAGES,
  fields: VILLAGES * FIELDS,
  offeredReadingsPerS: RATE,
  // What the loop managed to feed (its 25 ms timer overshoots a little on a busy machine).
  fedReadingsPerS: Math.round(readings / wallS),
  engineBusyPct: Math.round((100 * busyMs) / (wallS * 1000)),
  crossings,
  smsMeasured: latencies.length,
  latencyMs: {
    p50: Math.round(q(0.5)),
    p99: Math.round(q(0.99)),
    max: Math.round(latencies.at(-1) ?? Number.NaN),
  },
}
console.log(JSON.stringify(result, null, 2))
await engine.stop()
await registry.stop()
rmSync(dir, { recursive: true, force: true })
