import { DAY_MS, HOUR_MS } from './options.ts'
import type { DendroDay } from './processor.ts'
import type { WeatherDay } from './weather.ts'

/**
 * Life proven by growth, not by the daily cycle alone (issue 14; DOMAIN.md "Sedekah Oksigen").
 *
 * Dead wood, bark and wooden posts swell at night and shrink by day with air humidity, in the
 * same phase as a living stem; a living deciduous tree without leaves, or any tree in a week of
 * rain, has almost no cycle. So:
 * - **alive** = irreversible growth (GRO rising on many days, well beyond what swelling can fake)
 *   with the daily shrinkage coupled to atmospheric demand (it is larger on high-VPD days,
 *   VPD from the village weather station);
 * - **dormant** = the species is in its leafless season (phenology from species.ts) or the village
 *   is in a wet spell (a day of mean VPD ≤ `wetDayMaxVpdKpa` and the `wetAfterDays` after it):
 *   no growth and no cycle are expected, and nothing is counted against the tree;
 * - **failed** needs evidence across a growing season: `failAfterSeasonDays` growing-season days
 *   since growth was last proven. A growing-season day is in the months `growingSeasonMonths`, not
 *   dormant, with data, and — when the village station reports rain — not in a dry spell (less than
 *   `dryMaxRainMm` over the last `dryWindowDays`: a living tree without water stops growing too;
 *   that is drought, for the policy's at-risk rule, not evidence of death).
 *
 * Coupling to demand is judged only on MDS (morning maximum − afternoon minimum): the fitted 24 h
 * harmonic, all the processor gives until it reports `mdsUm` per day, carries the night growth,
 * which is smaller on high-VPD days (a turgor-gated growth), so its correlation with VPD says
 * nothing (in the simulator: r −0.35…+0.5 for living stems, against +0.23…+0.6 for their MDS).
 *
 * One `LifeTracker` per tree consumes the processor's closed days with the village's weather for
 * the same day. Its state is bounded (`keepDays` day records) and JSON-able (snapshot/restore).
 */

export const LIFE_DEFAULTS = {
  /** Local time (Asia/Jakarta, WIB), as the processor's days. */
  utcOffsetH: 7,
  /** Day records kept. */
  keepDays: 60,
  /** Growth is judged over this many calendar days … */
  growthWindowDays: 30,
  /** … a "growth day" gains at least this much GRO, µm (≥ 3 σ of a 1 µm sensor) … */
  growthDayMinUm: 3,
  /** … and growth is proven with at least this many growth days in the window … */
  minGrowthDays: 7,
  /** … and at least this much GRO gained in the window, µm … */
  minGrowthUm: 50,
  /**
   * … which must also exceed this many times the window's mean daily shrinkage: a swelling post
   * can push the running maximum up once or twice by about one daily swing, never by several.
   */
  minGrowthCycles: 2,
  /**
   * … and growth must still be going on: this many growth days within the last `recentDays` (a
   * stem that stops growing loses its proof within ~3 days, plus up to 2 days waiting for weather).
   */
  minRecentGrowthDays: 1,
  recentDays: 3,
  /** Local months of the growing season (Banyuwangi's wet season, Nov–Apr). */
  growingSeasonMonths: [11, 12, 1, 2, 3, 4] as readonly number[],
  /** Growing-season days without proven growth before a tree has failed (about two wet-season months). */
  failAfterSeasonDays: 60,
  /** A day with mean VPD at or below this is a wet day (rain, overcast, air near saturation), kPa. */
  wetDayMaxVpdKpa: 0.35,
  /** A wet day keeps the stem dormant for itself and this many days after (it refills, cycle recovers). */
  wetAfterDays: 2,
  /** A day counts with at least this share of its 10-min slots (processor coverage). */
  minCoverage: 0.8,
  /**
   * Coupling to demand: Pearson r of daily MDS against daily mean VPD at least this … (simulated
   * living stems: +0.23…+0.6 over 90 days; the check catches shrinkage that ignores demand) …
   */
  minCouplingR: 0.15,
  /** … over at least this many days (not dormant, with weather and MDS) … */
  minCouplingDays: 20,
  /** … with VPD varying at least this much (standard deviation, kPa); otherwise not judged. */
  minVpdSdKpa: 0.05,
  /** Weather samples a day needs to count (a station every 10 min gives 144). */
  minWeatherSamples: 12,
  /** Dry spell: less than this much rain over the last `dryWindowDays` (station rain gauge), mm. */
  dryMaxRainMm: 20,
  dryWindowDays: 14,
}

export type LifeOptions = typeof LIFE_DEFAULTS

export interface LifeDay {
  dayStartMs: number
  coverage: number
  groIncreaseUm: number
  /** The day's shrinkage, µm: MDS when the processor gives it, else the fitted 24 h harmonic's peak-to-peak. */
  shrinkUm: number | null
  vpdKpa: number | null
  rhPct: number | null
  wet: boolean | null
  /** The village's rain that day, mm (null: unknown). */
  rainMm: number | null
  /** In a dry spell (too little rain over the last `dryWindowDays`); null when rain is unknown. */
  dry: boolean | null
  /** Shrinkage is MDS (not the harmonic proxy). */
  mds: boolean
  leafless: boolean
  growingSeason: boolean
  /** Dormant (leafless or wet spell) */
  dormant: 'leafless' | 'wet_spell' | null
  /** Counted against the tree: a growing-season day with data, not dormant. */
  counted: boolean
}

export type Coupling =
  | { status: 'coupled' | 'not_coupled'; r: number; days: number; vpdSdKpa: number }
  | { status: 'unknown'; r: null; days: number; vpdSdKpa: number | null; why: string }

export interface LifeEvidence {
  /** Irreversible growth proven over the last `growthWindowDays`. */
  growthProven: boolean
  growthDays: number
  growthUmWindow: number
  meanShrinkUm: number | null
  /** Growth has been proven at some time since registration. */
  provenEver: boolean
  lastProvenDayMs: number | null
  /** Growing-season days (not dormant) since growth was last proven, and the limit. */
  seasonDaysWithoutGrowth: number
  failAfterSeasonDays: number
  failed: boolean
  dormancy: 'leafless' | 'wet_spell' | null
  coupling: Coupling
  weatherDays: number
  daysSeen: number
}

export interface LifeSnapshot {
  version: 1
  days: LifeDay[]
  lastDayStartMs: number | null
  seasonDaysWithoutGrowth: number
  provenEver: boolean
  lastProvenDayMs: number | null
  daysSeen: number
}

/** What the tracker needs to know about the species (from species.ts). */
export interface LifeSpecies {
  isLeafless(month: number): boolean
}

/** Shrinkage of one processor day: its MDS when the processor provides one, else the harmonic's peak-to-peak. */
export function dayShrinkageUm(d: DendroDay): number | null {
  const mds = (d as DendroDay & { mdsUm?: number | null }).mdsUm
  if (typeof mds === 'number' && Number.isFinite(mds)) return mds
  if (d.cycleCosUm === null || d.cycleSinUm === null) return null
  return 2 * Math.hypot(d.cycleCosUm, d.cycleSinUm)
}

/** Which per-day shrinkage `dayShrinkageUm` used: name of the method, for records. */
export function shrinkageMethod(d: DendroDay | undefined): 'mds' | 'harmonic-peak-to-peak' {
  const mds = (d as (DendroDay & { mdsUm?: number | null }) | undefined)?.mdsUm
  return typeof mds === 'number' ? 'mds' : 'harmonic-peak-to-peak'
}

export function pearson(xs: readonly number[], ys: readonly number[]): number | null {
  const n = xs.length
  if (n < 2) return null
  let mx = 0
  let my = 0
  for (let i = 0; i < n; i++) {
    mx += xs[i]!
    my += ys[i]!
  }
  mx /= n
  my /= n
  let sxy = 0
  let sxx = 0
  let syy = 0
  for (let i = 0; i < n; i++) {
    const dx = xs[i]! - mx
    const dy = ys[i]! - my
    sxy += dx * dy
    sxx += dx * dx
    syy += dy * dy
  }
  return sxx > 0 && syy > 0 ? sxy / Math.sqrt(sxx * syy) : null
}

export class LifeTracker {
  private readonly o: LifeOptions
  private days: LifeDay[] = []
  private lastDayStartMs: number | null = null
  private seasonDaysWithoutGrowth = 0
  private provenEver = false
  private lastProvenDayMs: number | null = null
  private daysSeen = 0

  constructor(options: Partial<LifeOptions> = {}) {
    this.o = { ...LIFE_DEFAULTS, ...options }
  }

  /**
   * Take the processor's closed days not seen yet. A day waits for its weather until the village's
   * weather day is complete or the tree's data is two days further (then it goes without).
   * `weather(dayStartMs)` gives the village's day, undefined when the village has none.
   */
  ingest(
    history: readonly DendroDay[],
    weather: (dayStartMs: number) => WeatherDay | undefined,
    species: LifeSpecies,
  ): number {
    const newest = history.at(-1)?.dayStartMs
    if (newest === undefined) return 0
    let added = 0
    for (const d of history) {
      if (this.lastDayStartMs !== null && d.dayStartMs <= this.lastDayStartMs) continue
      const w = weather(d.dayStartMs)
      if (w && !w.complete && newest - d.dayStartMs < 2 * DAY_MS) break
      this.add(d, w && w.samples >= this.o.minWeatherSamples ? w : undefined, species)
      added++
    }
    return added
  }

  private month(dayStartMs: number): number {
    return new Date(dayStartMs + this.o.utcOffsetH * HOUR_MS + DAY_MS / 2).getUTCMonth() + 1
  }

  private add(d: DendroDay, w: WeatherDay | undefined, species: LifeSpecies): void {
    const o = this.o
    const month = this.month(d.dayStartMs)
    const wet = w ? w.vpdMeanKpa <= o.wetDayMaxVpdKpa : null
    const leafless = species.isLeafless(month)
    // a wet day, or one of the `wetAfterDays` after a wet day
    const recentWet =
      wet === true ||
      this.days.some(
        (p) => p.wet === true && d.dayStartMs - p.dayStartMs <= o.wetAfterDays * DAY_MS + HOUR_MS,
      )
    const dormant = leafless ? 'leafless' : recentWet ? 'wet_spell' : null
    const growingSeason = o.growingSeasonMonths.includes(month)
    const rainMm = w?.rainMm ?? null
    let dry: boolean | null = null
    if (rainMm !== null) {
      const from = d.dayStartMs - (o.dryWindowDays - 1) * DAY_MS - HOUR_MS
      const recent = this.days.filter((p) => p.dayStartMs >= from && p.rainMm !== null)
      const total = rainMm + recent.reduce((a, p) => a + (p.rainMm ?? 0), 0)
      // judged once the window is mostly known
      dry = recent.length + 1 >= Math.ceil(o.dryWindowDays / 2) ? total < o.dryMaxRainMm : null
    }
    const day: LifeDay = {
      dayStartMs: d.dayStartMs,
      coverage: d.coverage,
      groIncreaseUm: d.groIncreaseUm,
      shrinkUm: dayShrinkageUm(d),
      vpdKpa: w ? w.vpdMeanKpa : null,
      rhPct: w ? w.rhMeanPct : null,
      wet,
      rainMm,
      dry,
      mds: shrinkageMethod(d) === 'mds',
      leafless,
      growingSeason,
      dormant,
      counted: growingSeason && dormant === null && dry !== true && d.coverage >= o.minCoverage,
    }
    this.days.push(day)
    if (this.days.length > o.keepDays) this.days.shift()
    this.lastDayStartMs = d.dayStartMs
    this.daysSeen++
    const g = this.growth()
    if (g.proven) {
      this.provenEver = true
      this.lastProvenDayMs = d.dayStartMs
      this.seasonDaysWithoutGrowth = 0
    } else if (day.counted) {
      this.seasonDaysWithoutGrowth++
    }
  }

  private growth(): { proven: boolean; days: number; um: number; meanShrinkUm: number | null } {
    const o = this.o
    const last = this.days.at(-1)
    if (!last) return { proven: false, days: 0, um: 0, meanShrinkUm: null }
    const from = last.dayStartMs - (o.growthWindowDays - 1) * DAY_MS
    const window = this.days.filter((d) => d.dayStartMs >= from)
    const recentFrom = last.dayStartMs - (o.recentDays - 1) * DAY_MS
    const recent = window.filter(
      (d) => d.dayStartMs >= recentFrom && d.groIncreaseUm >= o.growthDayMinUm,
    ).length
    let days = 0
    let um = 0
    let shrink = 0
    let nShrink = 0
    for (const d of window) {
      um += d.groIncreaseUm
      if (d.groIncreaseUm >= o.growthDayMinUm) days++
      if (d.shrinkUm !== null) {
        shrink += d.shrinkUm
        nShrink++
      }
    }
    const meanShrinkUm = nShrink > 0 ? shrink / nShrink : null
    const proven =
      days >= o.minGrowthDays &&
      recent >= o.minRecentGrowthDays &&
      um >= o.minGrowthUm &&
      um >= o.minGrowthCycles * (meanShrinkUm ?? 0)
    return { proven, days, um, meanShrinkUm }
  }

  private coupling(): Coupling {
    const o = this.o
    const pairs = this.days.filter(
      (d) =>
        d.dormant === null &&
        d.mds &&
        d.vpdKpa !== null &&
        d.shrinkUm !== null &&
        d.coverage >= o.minCoverage,
    )
    const xs = pairs.map((d) => d.vpdKpa!)
    const ys = pairs.map((d) => d.shrinkUm!)
    const weatherDays = this.days.filter((d) => d.vpdKpa !== null).length
    if (weatherDays === 0)
      return {
        status: 'unknown',
        r: null,
        days: 0,
        vpdSdKpa: null,
        why: 'no weather station readings from the village',
      }
    if (!this.days.some((d) => d.mds))
      return {
        status: 'unknown',
        r: null,
        days: 0,
        vpdSdKpa: null,
        why: 'no MDS per day from the processor yet (the fitted harmonic carries night growth: not judged)',
      }
    const mean = xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length)
    const sd = xs.length > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1)) : 0
    if (pairs.length < o.minCouplingDays)
      return {
        status: 'unknown',
        r: null,
        days: pairs.length,
        vpdSdKpa: sd,
        why: `${pairs.length} of ${o.minCouplingDays} days with weather and MDS`,
      }
    if (sd < o.minVpdSdKpa)
      return {
        status: 'unknown',
        r: null,
        days: pairs.length,
        vpdSdKpa: sd,
        why: `VPD hardly varied (sd ${sd.toFixed(3)} < ${o.minVpdSdKpa} kPa)`,
      }
    const r = pearson(xs, ys) ?? 0
    return { status: r >= o.minCouplingR ? 'coupled' : 'not_coupled', r, days: pairs.length, vpdSdKpa: sd }
  }

  /** The evidence as of the last day taken; `nowMonth` (local) decides leafless dormancy now. */
  evidence(now?: { month: number; species: LifeSpecies }): LifeEvidence {
    const g = this.growth()
    const last = this.days.at(-1)
    let dormancy = last?.dormant ?? null
    if (now?.species.isLeafless(now.month)) dormancy = 'leafless'
    else if (dormancy === 'leafless' && now) dormancy = null
    const c = this.coupling()
    return {
      growthProven: g.proven,
      growthDays: g.days,
      growthUmWindow: g.um,
      meanShrinkUm: g.meanShrinkUm,
      provenEver: this.provenEver,
      lastProvenDayMs: this.lastProvenDayMs,
      seasonDaysWithoutGrowth: this.seasonDaysWithoutGrowth,
      failAfterSeasonDays: this.o.failAfterSeasonDays,
      failed: this.seasonDaysWithoutGrowth >= this.o.failAfterSeasonDays,
      dormancy,
      coupling: c,
      weatherDays: this.days.filter((d) => d.vpdKpa !== null).length,
      daysSeen: this.daysSeen,
    }
  }

  /** The day records (copies), oldest first. */
  records(): LifeDay[] {
    return this.days.map((d) => ({ ...d }))
  }

  snapshot(): LifeSnapshot {
    return {
      version: 1,
      days: this.records(),
      lastDayStartMs: this.lastDayStartMs,
      seasonDaysWithoutGrowth: this.seasonDaysWithoutGrowth,
      provenEver: this.provenEver,
      lastProvenDayMs: this.lastProvenDayMs,
      daysSeen: this.daysSeen,
    }
  }

  static restore(s: LifeSnapshot, options: Partial<LifeOptions> = {}): LifeTracker {
    if (s?.version !== 1) throw new TypeError('unsupported life snapshot version')
    const t = new LifeTracker(options)
    t.days = s.days.map((d) => ({ ...d }))
    t.lastDayStartMs = s.lastDayStartMs
    t.seasonDaysWithoutGrowth = s.seasonDaysWithoutGrowth
    t.provenEver = s.provenEver
    t.lastProvenDayMs = s.lastProvenDayMs
    t.daysSeen = s.daysSeen
    return t
  }
}

/**
 * The tree's maximum daily shrinkage for records and pages: mean over the last `days` complete
 * days (coverage ≥ 0.8). MDS when the processor gives it per day; until then the fitted harmonic's
 * peak-to-peak, named as such by `method`.
 */
export function meanDailyShrinkage(
  history: readonly DendroDay[],
  days = 7,
): { um: number; method: 'mds' | 'harmonic-peak-to-peak'; days: number } | null {
  const values = history
    .filter((d) => d.coverage >= LIFE_DEFAULTS.minCoverage)
    .slice(-days)
    .map((d) => ({ v: dayShrinkageUm(d), d }))
    .filter((x): x is { v: number; d: DendroDay } => x.v !== null)
  if (values.length === 0) return null
  return {
    um: values.reduce((a, x) => a + x.v, 0) / values.length,
    method: shrinkageMethod(values.at(-1)!.d),
    days: values.length,
  }
}
