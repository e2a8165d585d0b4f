/**
 * A chili field on sandy loam goes dry at night and gets water again: what the farmer receives.
 * Its threshold follows from its soil (FAO-56 Table 19 sandy loam θFC 23 %, θWP 11 %; Table 22
 * chili p 0.30): 23 − 0.30 × (23 − 11) = 19,4 %.
 * Run: npx tsx src/alerts/example.ts
 */
import { auditTables } from '../audit/index.ts'
import { Registry } from '../registry/index.ts'
import { AlertEngine, alertsTables, type OutboxPort, parseAlertsConfig } from './index.ts'

const WIB = 7 * 3_600_000
const at = (d: number, h: number, m = 0) => Date.UTC(2026, 6, d, h, m) - WIB // July 2026, local time
let now = at(1, 20)

// Any outbox with enqueue/onInbound works; this one prints (src/notify's Outbox sends for real).
const outbox: OutboxPort & { reply(from: string, text: string): void } = {
  enqueue(m) {
    const wait = m.notBeforeMs
      ? ` (held until ${new Date(m.notBeforeMs + WIB).toISOString().slice(11, 16)})`
      : ''
    console.log(`${new Date(now + WIB).toISOString().slice(5, 16)}  → ${m.to}${wait}: ${m.text}`)
    return { id: 0, state: 'queued', duplicate: false }
  },
  onInbound(handler) {
    this.reply = (from, text) => void handler({ from, to: '+62811', text, receivedAtMs: now, via: 'example' })
  },
  reply() {},
}

const registry = new Registry({ path: ':memory:', schemas: [alertsTables, auditTables] })
await registry.start()
registry.addVillage({ id: 'kemiren', name: 'Kemiren' })
await registry.addDevice({ id: 'soil-01', village: 'kemiren', kind: 'soil', format: 'json' })
const engine = new AlertEngine({
  registry,
  outbox,
  config: parseAlertsConfig({ groupWaitMs: 0 }),
  clock: () => now,
  timers: false,
})
await engine.start()
engine.directory.addField({
  id: 'kemiren-sawah1',
  village: 'kemiren',
  name: 'SAWAH1',
  crop: 'chili',
  stage: 'mid',
  areaHa: 0.15,
  devices: ['soil-01'],
  soil: { texture: 'sandy-loam' },
})
engine.directory.addFarmer({ id: 'pak-budi', name: 'Pak Budi', phone: '0812-3456-7890' })
engine.directory.subscribe('pak-budi', 'kemiren-sawah1')

const soil = (value: number) =>
  engine.onReadings([
    { timeMs: now, village: 'kemiren', device: 'soil-01', sensor: 'main', quantity: 'soil_moisture', value },
  ])

// Moisture falls below 19,4 % at 01:30 and stays there: the alert fires 2 h later, inside the
// farmer's quiet hours: the SMS is queued for 06:00. Its advice is the measured depletion:
// Dr = 10 × (23 − θ) × 0,75 m (FAO-56 ch. 8).
for (let t = at(1, 22), i = 0; t <= at(2, 7); t += 30 * 60_000, i++) {
  now = t
  soil(20 - 0.1 * i)
  engine.tick(now)
}
now = at(2, 7, 5)
outbox.reply('+6281234567890', 'cek sawah1')
outbox.reply('+6281234567890', `OK ${engine.listAlerts().find((a) => a.rule === 'dry')!.id}`)
// Watered at 08:00 (the probe is back at field capacity) and the farmer says so.
now = at(2, 8)
soil(23)
engine.tick(now)
outbox.reply('+6281234567890', 'sudah')
console.log(
  engine.listAlerts().map((a) => `alert ${a.id}: ${a.rule} ${a.state}, acknowledged by ${a.ackedBy}`),
)
await engine.stop()
await registry.stop()
