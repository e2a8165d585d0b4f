import type Database from 'better-sqlite3'
import { CROPS, et0DailyMm, irrigationAdvice } from '../agronomy/index.ts'
import { getLogger } from '../log.ts'
import type { Registry } from '../registry/index.ts'
import type { Reading } from '../telemetry/index.ts'
import type { AlertsConfig } from './config.ts'
import type { Field } from './directory.ts'
import { statement } from './sql.ts'
import { DAY_MS, localDayOfYear, localDayStart } from './time.ts'

const log = getLogger('alerts.irrigation')

/** A village's weather over one local day, accumulated reading by reading. */
export interface WeatherDay {
  tMinC?: number
  tMaxC?: number
  rhMinPct?: number
  rhMaxPct?: number
  windSumMs: number
  windN: number
  /** ∫ global radiation dt [J/m²] (trapezoids between successive readings). */
  solarJm2: number
  rainMm: number
  /** Filled when the day is closed. */
  et0Mm?: number
}

export interface FieldAdvice {
  field: string
  village: string
  crop: string
  dayStartMs: number
  /** Days in the balance (since the last soaking rain, at most maxBalanceDays). */
  days: number
  /** ET0 and Kc of the last day. */
  et0Mm: number
  kc: number
  /** Over the balance window. */
  etcMm: number
  rainMm: number
  effectiveRainMm: number
  netNeedMm: number
  litres: number
}

/** A gap longer than this between two radiation readings is not integrated (the station was away). */
const MAX_SOLAR_GAP_MS = 2 * 3_600_000

/**
 * FAO-56 daily irrigation advice from a village's weather station: each local day's Tmin/Tmax,
 * RH min/max, mean wind, ∫Rs and rain are accumulated as readings arrive (SQLite, so a restart
 * keeps them); when the day is closed, ET0 (Penman–Monteith, src/agronomy) and for each field a
 * water balance since the last soaking rain: need = Σ Kc·ET0 + percolation − Peff, in mm and in
 * litres for the field's area (1 mm on 1 ha = 10 000 L). One weather station per village is
 * assumed (a second one's readings would be merged into the same day).
 */
export class IrrigationAdvisor {
  private readonly registry: Registry
  private readonly cfg: AlertsConfig['irrigation']
  /** Last radiation reading per village, for the trapezoids (lost on restart: one interval). */
  private readonly solarCursor = new Map<string, { ms: number; w: number }>()

  constructor(opts: { registry: Registry; config: AlertsConfig['irrigation'] }) {
    this.registry = opts.registry
    this.cfg = opts.config
  }

  private get db(): Database.Database {
    return this.registry.database()
  }

  private sql(text: string): Database.Statement {
    return statement(this.db, text)
  }

  /** Adds weather readings to their village-day (call inside the caller's transaction). */
  accumulate(readings: readonly Reading[]): void {
    if (readings.length === 0 || !this.cfg.enabled) return
    const days = new Map<string, { village: string; dayStartMs: number; day: WeatherDay }>()
    const get = this.sql('SELECT summary, closed FROM weather_days WHERE village = ? AND day_start_ms = ?')
    const sorted = [...readings].sort((a, b) => a.timeMs - b.timeMs)
    for (const r of sorted) {
      const dayStartMs = localDayStart(r.timeMs)
      const key = `${r.village}|${dayStartMs}`
      let entry = days.get(key)
      if (!entry) {
        const row = get.get(r.village, dayStartMs) as { summary: string; closed: number } | undefined
        // Readings for a day already closed (a late backlog) do not reopen it.
        if (row?.closed === 1) continue
        const day: WeatherDay = row
          ? (JSON.parse(row.summary) as WeatherDay)
          : { windSumMs: 0, windN: 0, solarJm2: 0, rainMm: 0 }
        entry = { village: r.village, dayStartMs, day }
        days.set(key, entry)
      }
      const d = entry.day
      switch (r.quantity) {
        case 'air_temperature':
          d.tMinC = Math.min(d.tMinC ?? r.value, r.value)
          d.tMaxC = Math.max(d.tMaxC ?? r.value, r.value)
          break
        case 'relative_humidity':
          d.rhMinPct = Math.min(d.rhMinPct ?? r.value, r.value)
          d.rhMaxPct = Math.max(d.rhMaxPct ?? r.value, r.value)
          break
        case 'wind_speed':
          d.windSumMs += r.value
          d.windN += 1
          break
        case 'rainfall':
          d.rainMm += r.value
          break
        case 'solar_radiation': {
          const prev = this.solarCursor.get(r.village)
          if (prev && r.timeMs > prev.ms && r.timeMs - prev.ms <= MAX_SOLAR_GAP_MS) {
            d.solarJm2 += ((prev.w + r.value) / 2) * ((r.timeMs - prev.ms) / 1000)
          }
          if (!prev || r.timeMs > prev.ms) this.solarCursor.set(r.village, { ms: r.timeMs, w: r.value })
          break
        }
      }
    }
    const put = this.sql(
      `INSERT INTO weather_days (village, day_start_ms, summary) VALUES (?, ?, ?)
       ON CONFLICT(village, day_start_ms) DO UPDATE SET summary = excluded.summary`,
    )
    for (const e of days.values()) put.run(e.village, e.dayStartMs, JSON.stringify(e.day))
  }

  /** The weather of one village-day. */
  weatherDay(village: string, dayStartMs: number): WeatherDay | undefined {
    const row = this.sql('SELECT summary FROM weather_days WHERE village = ? AND day_start_ms = ?').get(
      village,
      dayStartMs,
    ) as { summary: string } | undefined
    return row && (JSON.parse(row.summary) as WeatherDay)
  }

  /** FAO-56 ET0 of a day, or undefined when a needed quantity is missing. */
  et0(village: string, dayStartMs: number, day: WeatherDay, latitudeDeg: number): number | undefined {
    if (
      day.tMinC === undefined ||
      day.tMaxC === undefined ||
      day.rhMinPct === undefined ||
      day.rhMaxPct === undefined ||
      day.windN === 0 ||
      day.solarJm2 <= 0
    )
      return undefined
    try {
      return et0DailyMm({
        tMinC: day.tMinC,
        tMaxC: day.tMaxC,
        rhMinPct: day.rhMinPct,
        rhMaxPct: day.rhMaxPct,
        windSpeedMs: day.windSumMs / day.windN,
        windHeightM: this.cfg.windHeightM,
        solarRadiationMJm2: day.solarJm2 / 1e6,
        latitudeDeg,
        elevationM: this.cfg.elevationM,
        dayOfYear: localDayOfYear(dayStartMs + DAY_MS / 2),
      }).et0Mm
    } catch (err) {
      log.warn({ village, dayStartMs, err: (err as Error).message }, 'no ET0 for this day')
      return undefined
    }
  }

  /**
   * Closes every village-day that ended at least closeDayAfterMs ago: ET0, then advice per field
   * of the village. Returns the new advice (the engine writes it as events).
   */
  closeDays(nowMs: number, owns: (village: string) => boolean = () => true): FieldAdvice[] {
    const all = this.sql(
      'SELECT village, day_start_ms, summary FROM weather_days WHERE closed = 0 AND day_start_ms <= ? ORDER BY day_start_ms',
    ).all(nowMs - DAY_MS - this.cfg.closeDayAfterMs) as Array<{
      village: string
      day_start_ms: number
      summary: string
    }>
    // With a shared registry, another worker's villages are its to close.
    const rows = all.filter((r) => owns(r.village))
    const out: FieldAdvice[] = []
    for (const row of rows) {
      const day = JSON.parse(row.summary) as WeatherDay
      const et0 = this.et0(row.village, row.day_start_ms, day, this.cfg.latitudeDeg)
      if (et0 !== undefined) day.et0Mm = et0
      this.sql('UPDATE weather_days SET summary = ?, closed = 1 WHERE village = ? AND day_start_ms = ?').run(
        JSON.stringify(day),
        row.village,
        row.day_start_ms,
      )
      if (et0 === undefined) continue
      const fields = this.sql('SELECT id FROM fields WHERE village = ?').all(row.village) as Array<{
        id: string
      }>
      for (const { id } of fields) {
        const field = this.field(id)
        const advice = field && this.adviseField(field, row.day_start_ms)
        if (!advice) continue
        this.sql(
          'INSERT OR REPLACE INTO irrigation_advice (field, day_start_ms, detail) VALUES (?, ?, ?)',
        ).run(id, row.day_start_ms, JSON.stringify(advice))
        out.push(advice)
      }
    }
    return out
  }

  private field(id: string): Field | undefined {
    const r = this.sql('SELECT * FROM fields WHERE id = ?').get(id) as
      | {
          id: string
          village: string
          crop: string
          stage: string | null
          planted_at_ms: number | null
          area_ha: number
          lat: number | null
          name: string
        }
      | undefined
    if (!r) return undefined
    const f: Field = {
      id: r.id,
      village: r.village,
      name: r.name,
      crop: r.crop as Field['crop'],
      areaHa: r.area_ha,
      devices: [],
    }
    if (r.stage !== null) f.stage = r.stage as Field['stage']
    if (r.planted_at_ms !== null) f.plantedAtMs = r.planted_at_ms
    if (r.lat !== null) f.lat = r.lat
    return f
  }

  /** Days since planting on a day; for a field known only by stage, the middle of that stage. */
  daysSincePlanting(field: Field, dayStartMs: number): number | undefined {
    if (field.plantedAtMs !== undefined) {
      const d = Math.round((dayStartMs - localDayStart(field.plantedAtMs)) / DAY_MS)
      return d < 0 ? undefined : d
    }
    const l = CROPS[field.crop].stageLengthsDays
    const starts = {
      initial: 0,
      development: l.initial,
      mid: l.initial + l.development,
      late: l.initial + l.development + l.mid,
    }
    const stage = field.stage ?? 'mid'
    return starts[stage] + Math.floor(l[stage] / 2)
  }

  /** The balance for a field ending on a closed day (which must have its ET0). */
  adviseField(field: Field, dayStartMs: number): FieldAdvice | undefined {
    const dsp = this.daysSincePlanting(field, dayStartMs)
    if (dsp === undefined) return undefined
    const et0: number[] = []
    const rain: number[] = []
    for (let i = 0; i < this.cfg.maxBalanceDays; i++) {
      const day = this.weatherDay(field.village, dayStartMs - i * DAY_MS)
      if (!day || day.et0Mm === undefined) break
      // A soaking rain before the last day refilled the root zone: the balance starts after it.
      if (i > 0 && day.rainMm >= this.cfg.soakingRainMm) break
      et0.unshift(day.et0Mm)
      rain.unshift(day.rainMm)
    }
    if (et0.length === 0) return undefined
    const a = irrigationAdvice({
      et0Mm: et0,
      rainMm: rain,
      crop: field.crop,
      daysSincePlanting: dsp,
      areaHa: field.areaHa,
    })
    const last = a.perDay[a.perDay.length - 1]
    if (!last) return undefined
    return {
      field: field.id,
      village: field.village,
      crop: field.crop,
      dayStartMs,
      days: a.daysCounted,
      et0Mm: last.et0Mm,
      kc: last.kc,
      etcMm: a.etcMm,
      rainMm: a.rainMm,
      effectiveRainMm: a.effectiveRainMm,
      netNeedMm: a.netNeedMm,
      litres: a.litres,
    }
  }

  latestAdvice(field: string): FieldAdvice | undefined {
    const row = this.sql(
      'SELECT detail FROM irrigation_advice WHERE field = ? ORDER BY day_start_ms DESC LIMIT 1',
    ).get(field) as { detail: string } | undefined
    return row && (JSON.parse(row.detail) as FieldAdvice)
  }
}
