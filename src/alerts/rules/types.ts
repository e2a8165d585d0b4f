import type { z } from 'zod'
import type { GrowthStage, SoilWater } from '../../agronomy/index.ts'
import type { Quantity } from '../../telemetry/index.ts'
import type { AlertsConfig } from '../config.ts'
import type { Field, Language } from '../directory.ts'
import type { FieldAdvice, WeatherDay } from '../irrigation.ts'
import type { RuleId } from './ids.ts'
import type { LearnedSoil } from './moisture.ts'
import type { Severity } from './schema.ts'

/** field: soil or water of one field; weather: the village's weather at a field; sensor: node/gateway health. */
export type AlertCategory = 'field' | 'weather' | 'sensor'

/**
 * What a rule found about one subject at one time. `active`: the condition holds (pending, then
 * firing after `forMs`). `clear`: far enough back (hysteresis) to resolve a firing alert. Neither:
 * a firing alert stays, a pending one is dropped.
 */
export interface Finding {
  rule: RuleId
  subject: string
  category: AlertCategory
  village: string
  field?: string
  device?: string
  severity: Severity
  active: boolean
  clear: boolean
  value?: number
  threshold?: number
  atMs: number
  forMs: number
}

/** What a template gets about one alert. */
export interface AlertView {
  id: number
  rule: string
  fieldName?: string
  device?: string
  village: string
  value?: number
  threshold?: number
  /** Irrigation advice for dry alerts, when the field has one. */
  needMm?: number
  litres?: number
  areaHa?: number
  /** Local time text (HH:MM) of when it started, for offline alerts. */
  sinceLocal?: string
  /** The field's crop: a paddy is "sawah" and is flooded ("airi"), upland crops are watered ("siram"). */
  crop?: string
}

/**
 * Where a field is in its season. With a planting date, a calendar (stage from the variety's
 * duration, days to harvest, days from flowering for rice); a field known only by its stage has no
 * calendar: only `stage`.
 */
export interface FieldSeason {
  stage: GrowthStage
  seasonDays: number
  /** Whole days since planting (negative before it). */
  daysSincePlanting?: number
  daysToHarvest?: number
  /** Rice only. */
  daysFromFlowering?: number
}

/** One rule's SMS text in one language: a short label (grouped SMS, CEK) and the full text. */
export interface RuleText {
  /** A few words for grouped SMS and CEK replies ("kering", "hujan sangat lebat"). */
  label: (a: AlertView) => string
  firing: (a: AlertView, lang: Language) => string
  /** The all-clear; default "<where> aman lagi: <label> selesai (#id)." */
  resolved?: (a: AlertView, lang: Language) => string
}

export type RuleTexts = Readonly<Record<Language, RuleText>>

export interface Reading1 {
  value: number
  timeMs: number
}

/**
 * What the engine offers a rule: the facts it has gathered, read-only. Implemented by AlertEngine;
 * every method is cheap (memory, or one indexed query) so rules may call them per batch.
 */
export interface RuleContext {
  readonly config: AlertsConfig
  /** The newest reading of a device's quantity. */
  latest(device: string, quantity: Quantity): Reading1 | undefined
  /** min/max/count of a device's quantity over [fromMs, toMs] in the recent history. */
  window(
    device: string,
    quantity: Quantity,
    fromMs: number,
    toMs: number,
  ): { lo: number | null; hi: number | null; n: number }
  /** The newest value at or before a time. */
  valueAtOrBefore(device: string, quantity: Quantity, atMs: number): number | undefined
  /** Calibrated θ [% VWC] of the field: the mean of its probes' newest readings. */
  fieldMoisture(field: Field): Reading1 | undefined
  /** The field's paddy water level [cm]: the mean of its tubes' newest readings. */
  fieldWaterLevel(field: Field): Reading1 | undefined
  /** The field's soil water characteristics (field, then config defaults). */
  soil(field: Field): SoilWater
  /** Where the field is in its season (undefined: neither planting date nor stage known). */
  season(field: Field, atMs: number): FieldSeason | undefined
  /** The field's latest day of its FAO-56 root-zone balance (irrigation advisor), if any. */
  fieldBalance(field: Field): FieldAdvice | undefined
  /** The field's crop ETc of late [mm/day], from the irrigation advisor (for FAO-56 p adjustment). */
  etcMmPerDay(field: Field, atMs: number): number | undefined
  /** Rain at the village over (atMs − windowMs, atMs] [mm]. */
  villageRainMm(village: string, windowMs: number, atMs: number): number
  /** The village's air temperature at a time (the newest at or before it). */
  villageAir(village: string, atMs: number): Reading1 | undefined
  /** Closed weather days of a village, newest first, ending with the day starting at dayStartMs. */
  weatherDays(
    village: string,
    dayStartMs: number,
    count: number,
  ): Array<{ dayStartMs: number; day: WeatherDay }>
  /** What the field's probe taught the dry rule (moisture.ts `LearnedSoil`), kept across restarts. */
  learnedSoil(fieldId: string): LearnedSoil | undefined
  saveLearnedSoil(fieldId: string, learned: LearnedSoil, atMs: number): void
  /**
   * True at most once per `everyMs` of reading time per check and subject (a rule's costly check,
   * e.g. `due('stuck', device, …)`; two arguments, so no key string is built per report).
   */
  due(check: string, subject: string, atMs: number, everyMs: number): boolean
}

/** When the engine asks a family to evaluate. */
export type RuleTrigger =
  /** A reading of one of `quantities` from a device of the field. */
  | 'field'
  /** A reading of one of `quantities` in the field's village (weather station). */
  | 'village'
  /** Any reading of a device (sensor health). */
  | 'device'
  /** A village's local day was closed (daily models: disease risk). */
  | 'day'

export interface FieldTarget {
  kind: 'field'
  field: Field
  atMs: number
}
export interface DeviceTarget {
  kind: 'device'
  device: string
  village: string
  atMs: number
  field?: Field
}

/**
 * One family of alert rules (a file in this folder). `ids` are the alert rule ids it produces,
 * each with its texts in every language (a missing one fails to compile: see index.ts);
 * `configKey` is its section under `alerts.rules`, validated by `schema`; `quantities` are those it
 * looks back on (kept in the engine's recent history) and, for `field`/`village` triggers, those
 * whose readings make it evaluate. `windowMs` tells the engine how much history it needs.
 */
export interface RuleFamily<Id extends RuleId = RuleId> {
  family: string
  ids: readonly Id[]
  configKey: keyof AlertsConfig['rules']
  schema: z.ZodType
  quantities: readonly Quantity[]
  trigger: RuleTrigger
  evaluate(ctx: RuleContext, target: FieldTarget | DeviceTarget): Finding[]
  /** Time-only evaluation on the engine's tick (offline devices, windows that lapse). */
  tick?(ctx: RuleContext & TickContext, nowMs: number): Finding[]
  /** History this family looks back on [ms] (the engine prunes older rows). */
  windowMs?(config: AlertsConfig): number
  texts: Readonly<Record<Id, RuleTexts>>
  /** A short account for the README and `kampung alerts rules`: source, threshold, persistence. */
  describe: string
}

/** Extra facts for tick(). */
export interface TickContext {
  /** Devices the engine has seen, with their last reading time and broker status. */
  devicesSeen(): Array<{
    device: string
    village: string
    lastMs: number
    status: string | null
    statusAtMs: number | null
  }>
  /** Fields with an active (pending or firing) alert of one of these rules. */
  fieldsWithActive(rules: readonly RuleId[]): Field[]
  fieldOfDevice(device: string): Field | undefined
  owns(village: string): boolean
}

/** Any family, for lists (each keeps its own ids and texts). */
export type AnyRuleFamily = Omit<RuleFamily, 'ids' | 'texts'> & {
  ids: readonly RuleId[]
  texts: Readonly<Partial<Record<RuleId, RuleTexts>>>
}

/** A finding about one field: its subject, village and field id filled in from the field. */
export function fieldFinding(
  field: Pick<Field, 'id' | 'village'>,
  f: Omit<Finding, 'subject' | 'village' | 'field'>,
): Finding {
  return { subject: `field:${field.id}`, village: field.village, field: field.id, ...f }
}
