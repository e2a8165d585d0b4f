/**
 * Alert quality over a simulated year: `npx tsx bench/alert-quality.ts` (BENCH_FIELDS, default 36).
 *
 * A district of fields (rice, maize, chili; one farmer each) on soils whose TRUE θFC/θWP are drawn
 * uniformly inside their FAO-56 Table 19 class range, while the field is configured with the class
 * alone (mid-range). Probes read the true θ with a calibration error (offset ±2 % VWC, slope ±5 %).
 * Weather: firmware-sim's WeatherModel for Banyuwangi (hourly, rain events, wet and dry season).
 * Readings carry noise (0.3 % VWC, 0.3 cm, 1 sd).
 * Each field grows one season, planted in the wet (Nov–Jan) or the dry season (Apr–Jul).
 *
 * Truth (independent of the rules): an hourly FAO-56 root-zone water balance on the TRUE soil,
 * Dr += ETc·Ks − rain − irrigation, ETc = Kc · ET (firmware-sim's Priestley–Taylor driver), Ks from
 * eq. 84 with Table 22's p. A water-stress episode is Ks < 1 for at least the rule's `forMs`.
 * Paddies (rice): standing water h [cm], bund 10 cm, ET + percolation (2–6 mm/d by soil); below
 * the surface the perched water table falls (ET + percolation)/Sy (Sy 0.2); the farmer re-floods to
 * +5 cm when the AWD tube reads −15 cm, after a delay of 0–72 h; no irrigation in the 14-day
 * drain-down. Truth for a paddy: the roots draw on the soil once the water table is below −15 cm,
 * so Dr accumulates from then (on the true soil, p 0.20) and Ks < 1 is stress; stress in the
 * drain-down is intended and not counted.
 * Upland farmers irrigate to FC every 5–9 days unless it rained ≥ 10 mm in the last 2 days, and 6 h
 * after a dry alert fires.
 *
 * Readings go through the real AlertEngine in-process (injected clock, engine.onReadings, tick
 * hourly) with the default alerts config. Recall: an episode counts as alerted if a dry/water_low
 * alert for the field fired at or before onset + 6 h and was not resolved before onset. False
 * alert: a fired dry/water_low alert with no Ks < 1 in [fired − 24 h, fired + 48 h].
 * Writes bench/results/alert-quality.{json,md}.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { priestleyTaylorEtMmH } from '../firmware-sim/models/soil.ts'
import { WeatherModel } from '../firmware-sim/models/weather.ts'
import {
  CROP_SOIL_WATER,
  type CropId,
  kcOnDay,
  SOIL_TEXTURES,
  type SoilTexture,
  seasonDaysOf,
  soilWater,
  stressCoefficient,
} from '../src/agronomy/index.ts'
import { AlertEngine, type OutboxPort, parseAlertsConfig } from '../src/alerts/index.ts'
import { Registry } from '../src/registry/index.ts'
import { SCHEMAS } from '../src/schemas.ts'
import type { Reading } from '../src/telemetry/reading.ts'

const HOUR = 3_600_000
const DAY = 24 * HOUR
const FIELDS = Number(process.env.BENCH_FIELDS ?? 36)
const SEED = Number(process.env.BENCH_SEED ?? 7)
const START = Date.UTC(2025, 10, 1, -7) // 1 Nov 2025 00:00 WIB
const END = START + 365 * DAY
const TEXTURES: SoilTexture[] = ['sandy-loam', 'loam', 'silt-loam', 'clay']
const CROPS: CropId[] = ['rice', 'maize', 'chili']
const PERCOLATION_MM_D: Record<string, number> = { 'sandy-loam': 6, loam: 4, 'silt-loam': 3, clay: 2 }

let s = SEED >>> 0
const rand = () => {
  s = (s + 0x6d2b79f5) >>> 0
  let t = s
  t = Math.imul(t ^ (t >>> 15), t | 1)
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}
const between = (a: number, b: number) => a + (b - a) * rand()
/** Sensor noise (Box–Muller): real probes never repeat a value to the last digit for hours. */
const noise = (sd: number) => sd * Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand())

interface SimField {
  id: string
  crop: CropId
  texture: SoilTexture
  fc: number
  wp: number
  zr: number
  cal: { offset: number; slope: number }
  plantedMs: number
  seasonDays: number
  phone: string
  device: string
  // state
  dr: number
  levelCm: number
  nextIrrigMs: number
  intervalD: number
  refloodAtMs?: number
  // truth
  ksLow: Array<{ fromMs: number; toMs: number; drainDown: boolean }>
  inStress?: { fromMs: number; drainDown: boolean }
  weeks: number
}

const weather = new WeatherModel({ seed: SEED })
const fields: SimField[] = []
for (let i = 0; i < FIELDS; i++) {
  const crop = CROPS[i % 3]!
  const texture = TEXTURES[Math.floor(i / 3) % TEXTURES.length]!
  const r = SOIL_TEXTURES[texture]
  const fc = between(r.fc[0], r.fc[1]) * 100
  let wp = between(r.wp[0], r.wp[1]) * 100
  if (fc - wp < 5) wp = fc - 5
  const wet = i % 2 === 0
  const plantedMs = START + Math.floor(wet ? between(15, 75) : between(160, 250)) * DAY
  const z = CROP_SOIL_WATER[crop].rootDepthM
  fields.push({
    id: `f${i}`,
    crop,
    texture,
    fc,
    wp,
    zr: (z[0] + z[1]) / 2,
    cal: { offset: between(-2, 2), slope: between(0.95, 1.05) },
    plantedMs,
    seasonDays: seasonDaysOf(crop),
    phone: `+62812${String(i).padStart(7, '0')}`,
    device: `s${i}`,
    dr: 0,
    levelCm: 5,
    nextIrrigMs: plantedMs + DAY * between(3, 7),
    intervalD: Math.round(between(5, 9)),
    ksLow: [],
    weeks: 0,
  })
  void fc
}

const dir = mkdtempSync(path.join(os.tmpdir(), 'kampung-bench-aq-'))
const registry = new Registry({ path: path.join(dir, 'registry.db'), schemas: SCHEMAS })
await registry.start()
let clockMs = START
const sent: Array<{ to: string; atMs: number; critical: boolean; key: string }> = []
const outbox: OutboxPort = {
  enqueue(m) {
    sent.push({ to: m.to, atMs: m.notBeforeMs ?? clockMs, critical: m.critical === true, key: m.key })
    return { id: sent.length, state: 'queued', duplicate: false }
  },
  onInbound() {},
}
const config = parseAlertsConfig({})
const engine = new AlertEngine({ registry, outbox, config, clock: () => clockMs, timers: false })
await engine.start()
const db = registry.database()
registry.addVillage({ id: 'v0', name: 'Kemiren' })
const addDevice = (id: string, kind: string) =>
  db
    .prepare(
      "INSERT INTO devices (id, village, kind, format, secret_hash, created_at_ms) VALUES (?, 'v0', ?, 'json', 'x', 0)",
    )
    .run(id, kind)
addDevice('wx', 'weather')
for (const f of fields) {
  addDevice(f.device, 'soil')
  engine.directory.addField({
    id: f.id,
    village: 'v0',
    name: `Sawah ${f.id}`,
    crop: f.crop,
    plantedAtMs: f.plantedMs,
    areaHa: 0.2,
    devices: [f.device],
    soil: { texture: f.texture },
  })
  engine.directory.addFarmer({ id: `p-${f.id}`, name: 'Petani', phone: f.phone, village: 'v0' })
  engine.directory.subscribe(`p-${f.id}`, f.id)
}

const taw = (f: SimField) => 10 * (f.fc - f.wp) * f.zr
const pOf = (f: SimField) => CROP_SOIL_WATER[f.crop].p
const trueSoil = (f: SimField) => soilWater(f.crop, { fcPct: f.fc, wpPct: f.wp, rootDepthM: f.zr })
const firedSeen = new Set<number>()
const alertAt = new Map<string, number[]>()
const wall = performance.now()
const rain48: number[] = []

for (let t = START; t < END; t += HOUR) {
  clockMs = t
  const w = weather.at(t)
  const rainMm = weather.rainMmBetween(t - HOUR, t)
  rain48.push(rainMm)
  if (rain48.length > 48) rain48.shift()
  const recentRain = rain48.reduce((a, b) => a + b, 0)
  const et = priestleyTaylorEtMmH(w)
  const readings: Reading[] = [
    {
      timeMs: t,
      village: 'v0',
      device: 'wx',
      sensor: 'main',
      quantity: 'air_temperature',
      value: w.airTemperatureC,
    },
    {
      timeMs: t,
      village: 'v0',
      device: 'wx',
      sensor: 'main',
      quantity: 'relative_humidity',
      value: w.relativeHumidityPct,
    },
    { timeMs: t, village: 'v0', device: 'wx', sensor: 'main', quantity: 'wind_speed', value: w.windSpeedMs },
    {
      timeMs: t,
      village: 'v0',
      device: 'wx',
      sensor: 'main',
      quantity: 'solar_radiation',
      value: w.solarRadiationWm2,
    },
    { timeMs: t, village: 'v0', device: 'wx', sensor: 'main', quantity: 'rainfall', value: rainMm },
  ]
  for (const f of fields) {
    const day = (t - f.plantedMs) / DAY
    if (day < 0 || day > f.seasonDays) continue
    if ((t - f.plantedMs) % (7 * DAY) === 0) f.weeks++
    const etc = et * kcOnDay(f.crop, Math.floor(day), f.seasonDays)
    const drainDown = f.seasonDays - day <= 14
    const p = pOf(f)
    const T = taw(f)
    // Farmer responds 6 h after a fired stress alert.
    const fired = alertAt.get(f.id)
    const respond = fired?.some((a) => t - a >= 6 * HOUR && t - a < 7 * HOUR) ?? false
    if (f.crop === 'rice') {
      const lossCm = (etc + PERCOLATION_MM_D[f.texture]! / 24) / 10
      f.levelCm = Math.min(10, f.levelCm + rainMm / 10)
      f.levelCm -= f.levelCm > 0 ? lossCm : lossCm / 0.2
      f.levelCm = Math.max(-40, f.levelCm)
      if (!drainDown) {
        if (f.levelCm <= -15 && f.refloodAtMs === undefined)
          f.refloodAtMs = t + Math.round(between(0, 72)) * HOUR
        if ((f.refloodAtMs !== undefined && t >= f.refloodAtMs) || respond) {
          f.levelCm = 5
          f.refloodAtMs = undefined
        }
      }
      if (f.levelCm >= -15) f.dr = 0
      else f.dr = Math.min(T, f.dr + etc * stressCoefficient(trueSoil(f), f.dr, p))
      readings.push({
        timeMs: t,
        village: 'v0',
        device: f.device,
        sensor: 'main',
        quantity: 'water_level',
        value: f.levelCm + noise(0.3),
      })
    } else {
      const ks = stressCoefficient(trueSoil(f), f.dr, p)
      f.dr = Math.max(0, Math.min(T, f.dr + etc * ks - rainMm))
      if (!drainDown && (t >= f.nextIrrigMs || respond)) {
        if (recentRain < 10 || respond) f.dr = 0
        f.nextIrrigMs = t + f.intervalD * DAY
      }
      const theta = f.fc - f.dr / (10 * f.zr)
      const probe = theta * f.cal.slope + f.cal.offset + noise(0.3)
      readings.push({
        timeMs: t,
        village: 'v0',
        device: f.device,
        sensor: 'main',
        quantity: 'soil_moisture',
        value: probe,
      })
    }
    const ksNow = stressCoefficient(trueSoil(f), f.dr, p)
    if (ksNow < 1 && !f.inStress) f.inStress = { fromMs: t, drainDown }
    if (ksNow >= 1 && f.inStress) {
      f.ksLow.push({ ...f.inStress, toMs: t })
      f.inStress = undefined
    }
  }
  engine.onReadings(readings)
  engine.tick(t)
  for (const a of engine.listAlerts({ state: 'firing', limit: 200 })) {
    if (a.field === undefined || firedSeen.has(a.id) || a.firedAtMs === undefined) continue
    if (a.rule !== 'dry' && a.rule !== 'water_low') continue
    firedSeen.add(a.id)
    alertAt.set(a.field, [...(alertAt.get(a.field) ?? []), a.firedAtMs])
  }
}
for (const f of fields) if (f.inStress) f.ksLow.push({ ...f.inStress, toMs: END })

const all = engine.listAlerts({ limit: 1_000_000 })
const forMs = (crop: CropId) =>
  crop === 'rice' ? config.rules.waterLevel.forMs : config.rules.crops[crop].dry.forMs
type Row = {
  episodes: number
  alerted: number
  falseAlerts: number
  fieldMonths: number
  otherAlerts: number
}
const rows = new Map<string, Row>()
const smsPerWeek: number[] = []
const perField: Array<Record<string, unknown>> = []
for (const f of fields) {
  const key = `${f.crop}/${f.texture}`
  const row = rows.get(key) ?? { episodes: 0, alerted: 0, falseAlerts: 0, fieldMonths: 0, otherAlerts: 0 }
  rows.set(key, row)
  row.fieldMonths += f.seasonDays / 30.44
  const mine = all.filter((a) => a.field === f.id && a.firedAtMs !== undefined)
  const stress = mine.filter((a) => a.rule === 'dry' || a.rule === 'water_low')
  row.otherAlerts += mine.length - stress.length
  for (const e of f.ksLow) {
    if (e.drainDown || e.toMs - e.fromMs < forMs(f.crop)) continue
    row.episodes++
    const hit = stress.some(
      (a) =>
        a.firedAtMs! <= e.fromMs + 6 * HOUR && (a.resolvedAtMs === undefined || a.resolvedAtMs >= e.fromMs),
    )
    if (hit) row.alerted++
  }
  for (const a of stress) {
    const ok = f.ksLow.some((e) => e.fromMs <= a.firedAtMs! + 48 * HOUR && e.toMs >= a.firedAtMs! - 24 * HOUR)
    if (!ok) row.falseAlerts++
  }
  {
    // The true stress point vs what the probe reads there, against the configured threshold.
    const cfgSoil = soilWater(f.crop, { texture: f.texture })
    const p = pOf(f)
    const trueStress = f.fc - p * (f.fc - f.wp)
    perField.push({
      id: f.id,
      crop: f.crop,
      texture: f.texture,
      trueFcPct: Math.round(f.fc * 10) / 10,
      trueWpPct: Math.round(f.wp * 10) / 10,
      cal: { offset: Math.round(f.cal.offset * 100) / 100, slope: Math.round(f.cal.slope * 1000) / 1000 },
      probeAtTrueStressPct: Math.round((trueStress * f.cal.slope + f.cal.offset) * 10) / 10,
      configuredStressPct: Math.round((cfgSoil.fcPct - p * (cfgSoil.fcPct - cfgSoil.wpPct)) * 10) / 10,
      episodes: f.ksLow.filter((e) => !e.drainDown && e.toMs - e.fromMs >= forMs(f.crop)).length,
      stressAlerts: stress.length,
    })
  }
  const mineSms = sent.filter((m) => m.to === f.phone && !m.critical)
  const weeks = Math.max(1, Math.floor(f.seasonDays / 7))
  for (let k = 0; k < weeks; k++) {
    const a = f.plantedMs + k * 7 * DAY
    smsPerWeek.push(mineSms.filter((m) => m.atMs >= a && m.atMs < a + 7 * DAY).length)
  }
}
smsPerWeek.sort((a, b) => a - b)
const q = (p: number) => smsPerWeek[Math.min(smsPerWeek.length - 1, Math.floor(p * smsPerWeek.length))] ?? 0
const total = [...rows.values()].reduce(
  (a, r) => ({
    episodes: a.episodes + r.episodes,
    alerted: a.alerted + r.alerted,
    falseAlerts: a.falseAlerts + r.falseAlerts,
    fieldMonths: a.fieldMonths + r.fieldMonths,
    otherAlerts: a.otherAlerts + r.otherAlerts,
  }),
  { episodes: 0, alerted: 0, falseAlerts: 0, fieldMonths: 0, otherAlerts: 0 },
)
const pct = (a: number, b: number) => (b === 0 ? null : Math.round((1000 * a) / b) / 10)
const perMonth = (r: Row) => Math.round((100 * r.falseAlerts) / r.fieldMonths) / 100
const recall = pct(total.alerted, total.episodes)
const result = {
  date: new Date().toISOString(),
  machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, node: process.version },
  fields: FIELDS,
  seed: SEED,
  runS: Math.round((performance.now() - wall) / 100) / 10,
  perCropSoil: Object.fromEntries(
    [...rows].map(([k, r]) => [
      k,
      {
        ...r,
        fieldMonths: Math.round(r.fieldMonths * 10) / 10,
        recallPct: pct(r.alerted, r.episodes),
        falsePerFieldMonth: perMonth(r),
      },
    ]),
  ),
  total: {
    ...total,
    fieldMonths: Math.round(total.fieldMonths * 10) / 10,
    recallPct: recall,
    falsePerFieldMonth: perMonth(total),
  },
  nonCriticalSmsPerFarmerWeek: { median: q(0.5), p95: q(0.95), max: smsPerWeek.at(-1) ?? 0 },
  perField,
  targets: {
    recallGe95: recall !== null && recall >= 95,
    falseLe1PerFieldMonth: perMonth(total) <= 1,
    medianSmsLe2PerWeek: q(0.5) <= 2,
  },
}
const byRule: Record<string, number> = {}
for (const a of all) if (a.firedAtMs !== undefined) byRule[a.rule] = (byRule[a.rule] ?? 0) + 1
Object.assign(result, { firedByRule: byRule })
console.log(JSON.stringify(result, null, 2))
const out = path.join(import.meta.dirname, 'results')
mkdirSync(out, { recursive: true })
writeFileSync(path.join(out, 'alert-quality.json'), `${JSON.stringify(result, null, 2)}\n`)
const md = [
  `# Alert quality (bench/alert-quality.ts)`,
  '',
  `${result.date}, ${result.machine.model} × ${result.machine.cpus}, Node ${result.machine.node}; ${FIELDS} fields, seed ${SEED}, one simulated year, run ${result.runS} s.`,
  '',
  '| crop/soil | episodes | alerted | recall % | false alerts | field-months | false/field-month | other alerts |',
  '|---|---|---|---|---|---|---|---|',
  ...Object.entries(result.perCropSoil).map(
    ([k, r]) =>
      `| ${k} | ${r.episodes} | ${r.alerted} | ${r.recallPct ?? '–'} | ${r.falseAlerts} | ${r.fieldMonths} | ${r.falsePerFieldMonth} | ${r.otherAlerts} |`,
  ),
  `| **total** | ${total.episodes} | ${total.alerted} | ${recall ?? '–'} | ${total.falseAlerts} | ${Math.round(total.fieldMonths)} | ${perMonth(total)} | ${total.otherAlerts} |`,
  '',
  `Non-critical SMS per farmer per in-season week: median ${q(0.5)}, p95 ${q(0.95)}, max ${result.nonCriticalSmsPerFarmerWeek.max}.`,
  '',
  `Targets: recall ≥ 95 % ${result.targets.recallGe95 ? 'met' : 'NOT met'}; ≤ 1 false alert per field-month ${result.targets.falseLe1PerFieldMonth ? 'met' : 'NOT met'}; median ≤ 2 non-critical SMS/farmer/week ${result.targets.medianSmsLe2PerWeek ? 'met' : 'NOT met'}.`,
  '',
]
writeFileSync(path.join(out, 'alert-quality.md'), md.join('\n'))
await engine.stop()
await registry.stop()
rmSync(dir, { recursive: true, force: true })
