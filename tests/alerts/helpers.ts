import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {
  AlertEngine,
  type AlertEngineOptions,
  type AlertsConfigInput,
  type CommandPort,
  type EventSink,
  type InboundSms,
  type OutboundSms,
  type OutboxPort,
  parseAlertsConfig,
} from '../../src/alerts/index.ts'
import { Registry } from '../../src/registry/index.ts'
import { SCHEMAS } from '../../src/schemas.ts'
import type { Quantity } from '../../src/telemetry/quantities.ts'
import type { Reading } from '../../src/telemetry/reading.ts'

/**
 * A small real in-memory implementation of the outbox port (the notify branch's Outbox is the
 * production one): it keeps every message, one per idempotency key, and delivers MO messages to
 * the registered handlers.
 */
export class MemoryOutbox implements OutboxPort {
  readonly messages: Array<OutboundSms & { id: number; enqueuedAtMs: number }> = []
  duplicates = 0
  private readonly handlers: Array<(mo: InboundSms) => void | Promise<void>> = []
  private readonly byKey = new Map<string, number>()
  constructor(private readonly clock: () => number = Date.now) {}

  /** While set, enqueue throws, like an outbox that cannot write. */
  failing = false

  enqueue(msg: OutboundSms): { id: number; state: string; duplicate: boolean } {
    if (this.failing) throw new Error('outbox unavailable')
    const existing = this.byKey.get(msg.key)
    if (existing !== undefined) {
      this.duplicates += 1
      return { id: existing, state: 'queued', duplicate: true }
    }
    const id = this.messages.length + 1
    this.messages.push({ ...msg, id, enqueuedAtMs: this.clock() })
    this.byKey.set(msg.key, id)
    return { id, state: 'queued', duplicate: false }
  }

  onInbound(handler: (mo: InboundSms) => void | Promise<void>): void {
    this.handlers.push(handler)
  }

  async receive(from: string, text: string, receivedAtMs = this.clock()): Promise<void> {
    for (const h of this.handlers) await h({ from, to: '+62811000000', text, receivedAtMs, via: 'memory' })
  }

  to(phone: string): Array<OutboundSms & { id: number; enqueuedAtMs: number }> {
    return this.messages.filter((m) => m.to === phone)
  }
}

export const HOUR = 3_600_000
export const MIN = 60_000
export const DAY = 86_400_000
/** Local (WIB) midnight of a date, as UTC ms. */
export const wib = (y: number, m: number, d: number, h = 0, min = 0) => Date.UTC(y, m - 1, d, h - 7, min)

export interface Rig {
  dir: string
  registry: Registry
  engine: AlertEngine
  outbox: MemoryOutbox
  clock: { now: number }
  /** Stops the engine and registry and opens both again on the same file (a process restart). */
  restart(): Promise<void>
  /** A second engine on the same SQLite file (another process). */
  second(): Promise<{ registry: Registry; engine: AlertEngine }>
  stop(): Promise<void>
}

export const PHONE_A = '+6281200000001'
export const PHONE_B = '+6281200000002'
export const PHONE_OFFICER = '+6281200000009'

export async function rig(
  config: AlertsConfigInput = {},
  opts: {
    startMs?: number
    events?: EventSink
    commands?: () => CommandPort | undefined
    et0Mm?: AlertEngineOptions['et0Mm']
  } = {},
): Promise<Rig> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kampung-alerts-'))
  const clock = { now: opts.startMs ?? wib(2026, 7, 1, 8) }
  const file = path.join(dir, 'registry.db')
  const cfg = parseAlertsConfig(config)
  const make = async () => {
    const registry = new Registry({ path: file, schemas: SCHEMAS })
    await registry.start()
    const engine = new AlertEngine({
      registry,
      outbox,
      config: cfg,
      clock: () => clock.now,
      timers: false,
      events: opts.events,
      commands: opts.commands,
      ...(opts.et0Mm ? { et0Mm: opts.et0Mm } : {}),
    })
    await engine.start()
    return { registry, engine }
  }
  const outbox = new MemoryOutbox(() => clock.now)
  let current = await make()
  const others: Array<{ registry: Registry; engine: AlertEngine }> = []
  const r: Rig = {
    dir,
    get registry() {
      return current.registry
    },
    get engine() {
      return current.engine
    },
    outbox,
    clock,
    async restart() {
      await current.engine.stop()
      await current.registry.stop()
      current = await make()
    },
    async second() {
      const o = await make()
      others.push(o)
      return o
    },
    async stop() {
      for (const o of [...others, current]) {
        await o.engine.stop()
        await o.registry.stop()
      }
      rmSync(dir, { recursive: true, force: true })
    },
  }
  return r
}

/** Village kemiren, a soil node in SAWAH1 (chili, 0.15 ha), a weather station, two farmers, an officer. */
export async function seed(r: Rig, crop: 'chili' | 'maize' | 'rice' = 'chili'): Promise<void> {
  const reg = r.registry
  reg.addVillage({ id: 'kemiren', name: 'Kemiren' })
  await reg.addDevice({ id: 'soil-1', village: 'kemiren', kind: 'soil', format: 'json' })
  await reg.addDevice({ id: 'soil-2', village: 'kemiren', kind: 'soil', format: 'json' })
  await reg.addDevice({ id: 'wx-1', village: 'kemiren', kind: 'weather', format: 'json' })
  await reg.addDevice({ id: 'gw-1', village: 'kemiren', kind: 'gateway', format: 'json' })
  const d = r.engine.directory
  d.addField({
    id: 'kemiren-sawah1',
    village: 'kemiren',
    name: 'SAWAH1',
    crop,
    plantedAtMs: r.clock.now - 60 * DAY,
    areaHa: 0.15,
    devices: ['soil-1'],
  })
  d.addField({
    id: 'kemiren-sawah2',
    village: 'kemiren',
    name: 'SAWAH2',
    crop,
    plantedAtMs: r.clock.now - 60 * DAY,
    areaHa: 0.3,
    devices: ['soil-2'],
  })
  d.addFarmer({ id: 'pak-budi', name: 'Pak Budi', phone: PHONE_A, village: 'kemiren' })
  d.addFarmer({ id: 'bu-sri', name: 'Bu Sri', phone: '081200000002', village: 'kemiren', language: 'id' })
  d.subscribe('pak-budi', 'kemiren-sawah1')
  d.subscribe('bu-sri', 'kemiren-sawah1')
  d.subscribe('bu-sri', 'kemiren-sawah2')
  d.addOfficer({ id: 'pak-kades', name: 'Pak Kades', phone: PHONE_OFFICER, village: 'kemiren' })
}

export function reading(
  device: string,
  quantity: Quantity,
  value: number,
  timeMs: number,
  village = 'kemiren',
): Reading {
  return { timeMs, village, device, sensor: 'main', quantity, value }
}

/** Only the listed rules (others off), so a scenario's SMS count is about what it tests. */
export function only(
  ...rules: Array<'dry' | 'waterlogged' | 'sensor' | 'heavyRain' | 'heat' | 'disease' | 'drop' | 'irrigate'>
) {
  const on = new Set(rules)
  const crop = {
    dry: { thresholdPct: 25, enabled: on.has('dry') },
    waterlogged: { thresholdPct: 38, enabled: on.has('waterlogged') },
  }
  return {
    rules: {
      crops: { chili: crop, maize: { ...crop, dry: { ...crop.dry, thresholdPct: 21 } }, rice: crop },
      moistureDrop: { enabled: on.has('drop') },
      heavyRain: { enabled: on.has('heavyRain') },
      heatStress: { enabled: on.has('heat') },
      diseaseRisk: { enabled: on.has('disease') },
      irrigate: { enabled: on.has('irrigate') },
      sensorHealth: { enabled: on.has('sensor') },
    },
  } satisfies AlertsConfigInput
}

/**
 * One hour of a synthetic dry-season day at the weather station wx-1 (WIB hour h): Tmin 23 °C at
 * 05:00, Tmax 32 °C at 14:00 (28 otherwise), RH 92 % / 58 % at those hours (75 otherwise), wind
 * 3.2 m/s 12:00–17:00 and 2.0 otherwise (mean 2.3), radiation SOLAR_WM2 (Σ 5 680 W/m² × 1 h =
 * 20.448 MJ/m²), rain as given.
 */
export const SOLAR_WM2 = [
  0, 0, 0, 0, 0, 0, 80, 240, 400, 560, 680, 760, 784, 720, 600, 440, 280, 120, 16, 0, 0, 0, 0, 0,
]
export function syntheticWeather(h: number, t: number, rainMm = 0): Reading[] {
  return [
    reading('wx-1', 'air_temperature', h === 5 ? 23 : h === 14 ? 32 : 28, t),
    reading('wx-1', 'relative_humidity', h === 5 ? 92 : h === 14 ? 58 : 75, t),
    reading('wx-1', 'wind_speed', h >= 12 && h <= 17 ? 3.2 : 2.0, t),
    reading('wx-1', 'solar_radiation', SOLAR_WM2[h]!, t),
    reading('wx-1', 'rainfall', rainMm, t),
  ]
}
