import type Database from 'better-sqlite3'
import {
  CROPS,
  depletionFraction,
  et0DailyMm,
  kcOnDay,
  rootZoneDay,
  type SoilWater,
  totalAvailableWaterMm,
} from '../agronomy/index.ts'
import { getLogger } from '../log.ts'
import type { Registry } from '../registry/index.ts'
import { statement } from '../registry/index.ts'
import type { Reading } from '../telemetry/index.ts'
import type { AlertsConfig } from './config.ts'
import type { Field } from './directory.ts'
import { DAY_MS, localDayOfYear, localDayStart, localMinutes } from './time.ts'

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
  /** Lowest air temperature of the night hours (before 06.00 and from 18.00 local time) [°C]. */
  nightTMinC?: number
  /**
   * Hours with RH ≥ the blast rule's rhAbovePct, 90 % by default (each reading counts for the time
   * since the previous one, ≤ 1 h).
   */
  humidHours?: number
  /** Filled when the day is closed. */
  et0Mm?: number
}

/** A gap longer than this between two RH readings is not evidence of a humid hour. */
const MAX_RH_GAP_MS = 3_600_000
const NIGHT_ENDS_MIN = 6 * 60
const NIGHT_STARTS_MIN = 18 * 60

/**
 * One day of a field's root-zone water balance (FAO-56 ch. 8), as stored in irrigation_advice:
 * the next day carries on from its `depletionMm`, so a restart forgets nothing.
 */
export interface FieldAdvice {
  field: string
  village: string
  crop: string
  dayStartMs: number
  /** Days since the root zone was last at field capacity (a refill, or a wetting that filled it). */
  days: number
  /** ET0 and Kc of the day. */
  et0Mm: number
  kc: number
  /** The day's crop ET under its water stress, Ks · Kc · ET0 (FAO-56 eq. 81) [mm]. */
  etcMm: number
  /** The day's rain P [mm] (station). */
  rainMm: number
  /** P − RO [mm]: runoff taken as 0 (pyfao56's default); what exceeds the depletion drains (DP). */
  effectiveRainMm: number
  /** Dr at the end of the day [mm]: the depth that refills the root zone (a probe's, when fresh). */
  netNeedMm: number
  litres: number
  /** Mean Kc · ET0 of the last maxBalanceDays days [mm/day] (FAO-56 p adjustment, p. 162). */
  etcMmPerDay: number
  /**
   * How Dr was found: `probe`, Dr = 1000 (θFC − θ) Zr from the field's fresh probe readings (eq. 87);
   * `balance`, the daily balance Dr,i = Dr,i−1 − (P − RO) − I + Ks ETc + DP (eq. 85, 86, 88).
   */
  source: 'probe' | 'balance'
  /** Water the farmer reported (AIR <mm>) on the day, after its last refill: I [mm]. */
  appliedMm: number
  /** The refill (SUDAH, a probe's rise) the current drying run started from, if any. */
  refilledAtMs?: number
  /** Root-zone depletion Dr at the end of the day [mm], 0 ≤ Dr ≤ TAW (= netNeedMm). */
  depletionMm: number
  /** The balance's own Dr before a probe's reading replaced it [mm]. */
  balanceMm: number
  /** TAW and RAW of the field on the day (its soil, root depth and p for the day's ETc) [mm]. */
  tawMm: number
  rawMm: number
  /** Ks of the day (eq. 84) and the water drained below the root zone (eq. 88) [mm]. */
  ks: number
  deepPercolationMm: number
  /** A paddy's daily percolation counted in the day's loss (not FAO-56; 0 for upland crops) [mm]. */
  percolationMm: number
  /** Dr ≥ RAW: irrigate now, before stress starts (FAO-56 p. 171; Example 38 note 7). */
  irrigate: boolean
  /** Unstressed Kc · ET0 of the last days, newest last (for etcMmPerDay). */
  recentEtcMm: number[]
}

/** Water that reached a field: a farmer's reply or a probe's rise. mm undefined = refilled to FC. */
export interface FieldWater {
  atMs: number
  mm?: number
  source: string
}

export interface IrrigationAdvisorOptions {
  registry: Registry
  config: AlertsConfig['irrigation']
  /** Keep daily weather summaries even with irrigation advice off (the daily disease model uses them). */
  accumulate?: boolean
  /** RH [%] at or above which an hour counts as humid (the blast rule's rhAbovePct: disease.ts). */
  humidRhPct: number
  /** The fields of a village, as the engine knows them (soil, season, devices). */
  fields: (village: string) => Field[]
  soil: (field: Field) => SoilWater
  /** Root-zone depletion from fresh probe readings [mm], or undefined. */
  probeDepletionMm: (field: Field, atMs: number) => number | undefined
  /** The variety's season length of a field [days]. */
  seasonDays: (field: Field) => number
  /**
   * Where a closed day's ET0 comes from: default Penman–Monteith from the station's day (`et0`). A
   * district may take it from elsewhere; tests feed a book's values.
   */
  et0Mm?: (village: string, dayStartMs: number, day: WeatherDay) => number | undefined
}

/** A gap longer than this between two radiation readings is not integrated (the station was away). */
const MAX_SOLAR_GAP_MS = 2 * 3_600_000

/**
 * FAO-56 daily irrigation advice from a village's weather station: each local day's Tmin/Tmax,
 * RH min/max, mean wind, ∫Rs and rain are accumulated as readings arrive (SQLite, so a restart
 * keeps them); when the day is closed, ET0 (Penman–Monteith, src/agronomy) and for each field one
 * more day of its root-zone balance (FAO-56 ch. 8, `adviseField`): the depletion Dr that refills
 * the root zone, in mm and in litres for the field's area (1 mm on 1 ha = 10 000 L), and whether
 * to irrigate (Dr ≥ RAW). Each day is stored (irrigation_advice), so the next one and a restart
 * carry on from it. One weather station per village is assumed (a second one's readings would be
 * merged into the same day).
 */
export class IrrigationAdvisor {
  private readonly registry: Registry
  private readonly cfg: AlertsConfig['irrigation']
  private readonly opts: IrrigationAdvisorOptions
  /** Last radiation reading per village, for the trapezoids (lost on restart: one interval). */
  private readonly solarCursor = new Map<string, { ms: number; w: number }>()
  /** Last RH reading per village, for humid hours (lost on restart: one interval). */
  private readonly rhCursor = new Map<string, { ms: number; rh: number }>()

  constructor(opts: IrrigationAdvisorOptions) {
    this.opts = opts
    this.registry = opts.registry
    this.cfg = opts.config
  }

  private get accumulating(): boolean {
    return this.opts.accumulate ?? this.cfg.enabled
  }

  private get db(): Database.Database {
    return this.registry.database()
  }

  private sql(text: string): Database.Statement {
    return statement(this.db, text)
  }

  /** Adds weather readings to their village-day (call inside the caller's transaction). */
  accumulate(readings: readonly Reading[]): void {
    if (readings.length === 0 || !this.accumulating) return
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
        case 'air_temperature': {
          d.tMinC = Math.min(d.tMinC ?? r.value, r.value)
          d.tMaxC = Math.max(d.tMaxC ?? r.value, r.value)
          const minute = localMinutes(r.timeMs)
          if (minute < NIGHT_ENDS_MIN || minute >= NIGHT_STARTS_MIN)
            d.nightTMinC = Math.min(d.nightTMinC ?? r.value, r.value)
          break
        }
        case 'relative_humidity': {
          d.rhMinPct = Math.min(d.rhMinPct ?? r.value, r.value)
          d.rhMaxPct = Math.max(d.rhMaxPct ?? r.value, r.value)
          // The interval before a reading counts as humid when the reading is (≤ 1 h: a gap is no evidence).
          const prev = this.rhCursor.get(r.village)
          if (
            prev &&
            r.timeMs > prev.ms &&
            r.timeMs - prev.ms <= MAX_RH_GAP_MS &&
            r.value >= this.opts.humidRhPct
          )
            d.humidHours = (d.humidHours ?? 0) + (r.timeMs - prev.ms) / 3_600_000
          else d.humidHours ??= 0
          if (!prev || r.timeMs > prev.ms) this.rhCursor.set(r.village, { ms: r.timeMs, rh: r.value })
          break
        }
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
  closeDays(
    nowMs: number,
    owns: (village: string) => boolean = () => true,
  ): { advice: FieldAdvice[]; days: Array<{ village: string; dayStartMs: number }> } {
    const closed: Array<{ village: string; dayStartMs: number }> = []
    if (!this.accumulating) return { advice: [], days: closed }
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
      const et0 = !this.cfg.enabled
        ? undefined
        : this.opts.et0Mm
          ? this.opts.et0Mm(row.village, row.day_start_ms, day)
          : this.et0(row.village, row.day_start_ms, day, this.cfg.latitudeDeg)
      if (et0 !== undefined) day.et0Mm = et0
      this.sql('UPDATE weather_days SET summary = ?, closed = 1 WHERE village = ? AND day_start_ms = ?').run(
        JSON.stringify(day),
        row.village,
        row.day_start_ms,
      )
      closed.push({ village: row.village, dayStartMs: row.day_start_ms })
      if (et0 === undefined) continue
      for (const field of this.opts.fields(row.village)) {
        const advice = this.adviseField(field, row.day_start_ms, nowMs)
        if (!advice) continue
        this.sql(
          'INSERT OR REPLACE INTO irrigation_advice (field, day_start_ms, detail) VALUES (?, ?, ?)',
        ).run(field.id, row.day_start_ms, JSON.stringify(advice))
        out.push(advice)
      }
    }
    return { advice: out, days: closed }
  }

  /** Closed days of a village, newest first, from the day starting at dayStartMs back. */
  closedDays(
    village: string,
    dayStartMs: number,
    count: number,
  ): Array<{ dayStartMs: number; day: WeatherDay }> {
    return (
      this.sql(
        `SELECT day_start_ms, summary FROM weather_days WHERE village = ? AND closed = 1 AND day_start_ms <= ?
           ORDER BY day_start_ms DESC LIMIT ?`,
      ).all(village, dayStartMs, count) as Array<{ day_start_ms: number; summary: string }>
    ).map((r) => ({ dayStartMs: r.day_start_ms, day: JSON.parse(r.summary) as WeatherDay }))
  }

  /**
   * Water reached a field: a farmer's SUDAH (mm undefined: the advised amount, i.e. the whole
   * deficit, was applied: back at field capacity, Dr = 0), AIR <mm> (I = mm in the day's balance),
   * or a probe's rise (refilled, Dr = 0). Call inside the caller's transaction or alone.
   */
  recordWater(field: string, atMs: number, mm: number | undefined, source: string): void {
    this.sql('INSERT INTO field_water (field, at_ms, mm, source) VALUES (?, ?, ?, ?)').run(
      field,
      atMs,
      mm ?? null,
      source,
    )
  }

  lastWater(field: string): FieldWater | undefined {
    return this.waterSince(field, Number.NEGATIVE_INFINITY).at(-1)
  }

  /** Water events of a field at or after fromMs, oldest first. */
  waterSince(field: string, fromMs: number, toMs = Number.POSITIVE_INFINITY): FieldWater[] {
    return (
      this.sql(
        'SELECT at_ms, mm, source FROM field_water WHERE field = ? AND at_ms >= ? AND at_ms <= ? ORDER BY at_ms',
      ).all(
        field,
        Number.isFinite(fromMs) ? fromMs : -8.64e15,
        Number.isFinite(toMs) ? toMs : 8.64e15,
      ) as Array<{ at_ms: number; mm: number | null; source: string }>
    ).map((r) => ({ atMs: r.at_ms, ...(r.mm !== null ? { mm: r.mm } : {}), source: r.source }))
  }

  /**
   * The need for a field now, for the dry SMS and CEK: from the probes when they are fresh; else
   * the latest advice (at most 3 days old) less the water reported since its day ended (a refill
   * since then: nothing is needed until the next day closes).
   */
  currentNeed(
    field: Field,
    nowMs: number,
  ): { netNeedMm: number; litres: number; source: 'probe' | 'balance' } | undefined {
    const dr = this.opts.probeDepletionMm(field, nowMs)
    if (dr !== undefined) return { netNeedMm: dr, litres: dr * field.areaHa * 10_000, source: 'probe' }
    const advice = this.latestAdvice(field.id)
    // Yesterday's balance (or the day before, early in the morning); older advice is not advice.
    if (!advice || advice.dayStartMs < nowMs - 3 * DAY_MS) return undefined
    let need = advice.netNeedMm
    for (const w of this.waterSince(field.id, advice.dayStartMs + DAY_MS, nowMs)) {
      need = w.mm === undefined ? 0 : Math.max(0, need - w.mm)
    }
    return { netNeedMm: need, litres: need * field.areaHa * 10_000, source: 'balance' }
  }

  /**
   * Days since planting on a day; for a field known only by stage, the middle of that stage (of the
   * Table 11 row). Before planting: undefined, or negative with allowBefore.
   */
  daysSincePlanting(field: Field, dayStartMs: number, o: { allowBefore?: boolean } = {}): number | undefined {
    if (field.plantedAtMs !== undefined) {
      const d = Math.round((dayStartMs - localDayStart(field.plantedAtMs)) / DAY_MS)
      return d < 0 && !o.allowBefore ? undefined : d
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

  /**
   * The field's root-zone balance (FAO-56 ch. 8) carried to the end of a closed day (which must have
   * its ET0), from the last stored day (at most maxBalanceDays back; else a cold start with the root
   * zone at field capacity at the start of that window, as after a soaking rain). Each day, in order:
   * its wetting early in the day (FAO-56 Example 38): a refill (SUDAH, a probe's rise) sets Dr to 0,
   * then rain P (runoff taken as 0) and the farmer's reported water I (AIR <mm>) after it; Ks from
   * the depletion then (eq. 84, p for the day's ETc, p. 162), ETc adj = Ks Kc ET0, DP the water above
   * field capacity (eq. 88), 0 ≤ Dr ≤ TAW (eq. 85, 86), plus a paddy's percolation. A day between
   * without ET0 (a station gap) draws the last known ET0. A fresh probe replaces the day's Dr with
   * its measured one (eq. 87), from which the next day carries on.
   */
  adviseField(
    field: Field,
    dayStartMs: number,
    nowMs: number = dayStartMs + DAY_MS,
  ): FieldAdvice | undefined {
    if (this.daysSincePlanting(field, dayStartMs) === undefined) return undefined
    const today = this.weatherDay(field.village, dayStartMs)
    if (today?.et0Mm === undefined) return undefined
    const soil = this.opts.soil(field)
    const taw = totalAvailableWaterMm(soil)
    const maxDays = this.cfg.maxBalanceDays
    const prev = this.previousDay(field.id, dayStartMs, maxDays)
    let dr = prev ? Math.min(taw, prev.depletionMm) : 0
    let days = prev?.days ?? 0
    let refilledAtMs = prev?.refilledAtMs
    let recent = prev?.recentEtcMm ?? []
    let lastEt0 = prev?.et0Mm
    let out: FieldAdvice | undefined
    const from = prev ? prev.dayStartMs + DAY_MS : dayStartMs - (maxDays - 1) * DAY_MS
    for (let d = from; d <= dayStartMs; d += DAY_MS) {
      const dsp = this.daysSincePlanting(field, d)
      if (dsp === undefined) continue
      const w = d === dayStartMs ? today : this.weatherDay(field.village, d)
      const et0 = w?.et0Mm ?? lastEt0
      // A cold start begins on the first day with ET0.
      if (et0 === undefined) continue
      lastEt0 = et0
      const kc = kcOnDay(
        field.crop,
        dsp,
        field.plantedAtMs !== undefined ? this.opts.seasonDays(field) : undefined,
      )
      const etc = kc * et0
      const p = depletionFraction(soil, etc)
      const rain = w?.rainMm ?? 0
      const water = this.waterSince(field.id, d, d + DAY_MS - 1)
      const refill = water.filter((x) => x.mm === undefined).at(-1)
      const irrigation = water
        .filter((x) => x.mm !== undefined && x.atMs >= (refill?.atMs ?? Number.NEGATIVE_INFINITY))
        .reduce((sum, x) => sum + x.mm!, 0)
      const start = refill ? 0 : dr
      const day = rootZoneDay(soil, {
        depletionMm: start,
        etcMm: etc,
        p,
        effectiveRainMm: rain,
        irrigationMm: irrigation,
        wettingEarly: true,
      })
      const percolationMm = CROPS[field.crop].defaultPercolationMmPerDay
      dr = Math.min(taw, day.depletionMm + percolationMm)
      // The drying run restarts when the day's wetting brought the root zone to field capacity.
      const filled = refill !== undefined || start - rain - irrigation <= 0
      days = filled ? 1 : days + 1
      if (refill) refilledAtMs = refill.atMs
      else if (filled) refilledAtMs = undefined
      recent = [...recent, etc].slice(-maxDays)
      out = {
        field: field.id,
        village: field.village,
        crop: field.crop,
        dayStartMs: d,
        days,
        et0Mm: et0,
        kc,
        etcMm: day.etcAdjMm,
        rainMm: rain,
        effectiveRainMm: rain,
        netNeedMm: dr,
        litres: dr * field.areaHa * 10_000,
        etcMmPerDay: recent.reduce((a, b) => a + b, 0) / recent.length,
        source: 'balance',
        appliedMm: irrigation,
        depletionMm: dr,
        balanceMm: dr,
        tawMm: taw,
        rawMm: p * taw,
        ks: day.ks,
        deepPercolationMm: day.deepPercolationMm,
        percolationMm,
        irrigate: dr >= p * taw,
        recentEtcMm: recent,
      }
      if (refilledAtMs !== undefined) out.refilledAtMs = refilledAtMs
    }
    if (!out || out.dayStartMs !== dayStartMs) return undefined
    // With fresh probe readings the root zone is measured (FAO-56 eq. 87), not estimated.
    const dayEndMs = dayStartMs + DAY_MS
    const measured = this.opts.probeDepletionMm(field, Math.min(nowMs, dayEndMs + this.cfg.closeDayAfterMs))
    if (measured !== undefined) {
      out.source = 'probe'
      out.depletionMm = Math.min(taw, measured)
      out.netNeedMm = measured
      out.litres = measured * field.areaHa * 10_000
      out.irrigate = out.depletionMm >= out.rawMm
    }
    return out
  }

  /** The field's stored balance of the latest day before dayStartMs, at most maxDays back. */
  private previousDay(field: string, dayStartMs: number, maxDays: number): FieldAdvice | undefined {
    const row = this.sql(
      `SELECT detail FROM irrigation_advice WHERE field = ? AND day_start_ms < ? AND day_start_ms >= ?
         ORDER BY day_start_ms DESC LIMIT 1`,
    ).get(field, dayStartMs, dayStartMs - maxDays * DAY_MS) as { detail: string } | undefined
    const advice = row && (JSON.parse(row.detail) as Partial<FieldAdvice>)
    // Advice stored before the daily balance (a window sum) has no depletion to carry on from.
    return advice?.depletionMm === undefined ? undefined : (advice as FieldAdvice)
  }

  /** The field's total available water [mm] (TAW, FAO-56 eq. 82), for CEK and the README. */
  totalAvailableWaterMm(field: Field): number {
    return totalAvailableWaterMm(this.opts.soil(field))
  }

  latestAdvice(field: string): FieldAdvice | undefined {
    const row = this.sql(
      'SELECT detail FROM irrigation_advice WHERE field = ? ORDER BY day_start_ms DESC LIMIT 1',
    ).get(field) as { detail: string } | undefined
    return row && (JSON.parse(row.detail) as FieldAdvice)
  }
}
