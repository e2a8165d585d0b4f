import { z } from 'zod'
import { SOIL_TEXTURE_IDS, type SoilTexture } from '../agronomy/index.ts'
import { VALVE_MAX_MINUTES } from './directory.ts'
import { partitionSchema } from './partition.ts'
import { diseaseRiskSchema } from './rules/disease.ts'
import { heatStressSchema } from './rules/heat.ts'
import { heavyRainSchema } from './rules/heavy-rain.ts'
import { irrigateSchema } from './rules/irrigate.ts'
import { cropsSchema } from './rules/moisture.ts'
import { moistureDropSchema } from './rules/moisture-drop.ts'
import { durationMs, HOUR_MS, MINUTE_MS, SEVERITIES, type Severity } from './rules/schema.ts'
import { sensorHealthSchema } from './rules/sensor-health.ts'
import { waterLevelSchema } from './rules/water-level.ts'

export type { CropRules, MoistureThreshold } from './rules/moisture.ts'
export { SEVERITIES, type Severity }

/**
 * The `alerts` section of the one config schema (src/config.ts). Every rule has a default, so
 * alerts work with no config at all; every key is validated with its path, unknown keys rejected.
 * Durations are ms, moisture %VWC, temperatures °C, rain mm.
 */

const clock = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'expected HH:MM (24 h)')

/**
 * One key per rule family (src/alerts/rules/): each family owns its schema; the families' list
 * test checks every family's `configKey` is here. `crops` is shared by dry and waterlogged.
 */
const rulesSchema = z
  .object({
    crops: cropsSchema,
    moistureDrop: moistureDropSchema,
    waterLevel: waterLevelSchema,
    heavyRain: heavyRainSchema,
    heatStress: heatStressSchema,
    diseaseRisk: diseaseRiskSchema,
    irrigate: irrigateSchema,
    sensorHealth: sensorHealthSchema,
  })
  .strict()
export type AlertRules = z.infer<typeof rulesSchema>
export const RULE_CONFIG_KEYS = Object.keys(rulesSchema.shape) as Array<keyof AlertRules>

/** The soil a field has when it says nothing of its own (FAO-56 Table 19 texture, mid-range). */
const soilSchema = z
  .object({ texture: z.enum(SOIL_TEXTURE_IDS as [SoilTexture, ...SoilTexture[]]).default('loam') })
  .strict()
  .prefault({})

const irrigationSchema = z
  .object({
    enabled: z.boolean().default(true),
    /** Latitude of the villages' weather stations (one value for the district: ~0.1° changes ET0 little). */
    latitudeDeg: z.number().min(-90).max(90).default(-8.22),
    elevationM: z.number().default(50),
    /** Height of the weather station's anemometer (FAO-56 eq. 47 brings it to 2 m). */
    windHeightM: z.number().min(0.5).default(2),
    /**
     * A probe rise of at least this much [% VWC] within an hour is water arriving (irrigation or
     * rain): the field is taken as refilled and the balance restarts, as after a farmer's SUDAH
     * (which assumes the advised amount — the whole deficit — was applied).
     */
    probeRisePct: z.number().positive().default(5),
    /**
     * The daily balance carries on from a field's stored day at most this many days old (across a
     * station gap); older, or none, it starts again with the root zone at field capacity this many
     * days back. Also the days over which ETc is averaged for p (FAO-56 p. 162).
     */
    maxBalanceDays: z.number().int().min(1).max(30).default(7),
    /** A day is closed this long after local midnight (late readings from gateway backlogs). */
    closeDayAfterMs: durationMs.default(HOUR_MS),
  })
  .strict()

/**
 * Farmers' SMS valve commands (AIRI SAWAH1 30 / TUTUP SAWAH1), for fields with a valve: the
 * defaults of a field's own limits (`valve.maxOpenMinutes`, `valve.maxMinutesPerDay`).
 */
const valvesSchema = z
  .object({
    /** The longest one SMS may open a valve [min] (a field's own limit wins). */
    maxOpenMinutes: z.number().int().min(1).max(VALVE_MAX_MINUTES).default(120),
    /** Minutes a field's valve may be opened by SMS per local day, all farmers together. */
    maxMinutesPerDay: z.number().int().min(1).max(1440).default(360),
    /**
     * A valve command its node has not answered within this long expires, and the farmer is told
     * (a valve should not open hours after the farmer asked and left).
     */
    commandExpiryS: z.number().int().min(1).max(86_400).default(600),
    /** A paddy whose water stands this high [cm above the soil] is not watered more by SMS. */
    paddyFullCm: z.number().min(0).max(30).default(5),
  })
  .strict()

export const alertsSchema = z
  .object({
    enabled: z.boolean().default(true),
    /** How often lifecycle timers run (offline checks, group flushes, escalation, day close). */
    tickIntervalMs: z.number().int().min(100).default(30_000),
    /** Alertmanager group_wait: wait this long after the first finding so others join the SMS. */
    groupWaitMs: durationMs.default(2 * MINUTE_MS),
    /** Alertmanager group_interval: at least this long between two SMS to one person. */
    groupIntervalMs: durationMs.default(30 * MINUTE_MS),
    /** Alertmanager repeat_interval: remind about an unacknowledged firing alert after this long. */
    repeatIntervalMs: durationMs.default(12 * HOUR_MS),
    /** A critical alert unacknowledged for this long goes to the village officers. */
    escalateAfterMs: durationMs.default(60 * MINUTE_MS),
    /** Default quiet hours of a new farmer, local time (Asia/Jakarta, WIB = UTC+7, no DST). */
    quietHours: z
      .object({ start: clock.default('21:00'), end: clock.default('06:00') })
      .strict()
      .prefault({}),
    /**
     * Readings are evaluated in batches, one SQLite transaction each: at most this many readings…
     * (the state worker's feed, and the readings the ingest pipeline stored)
     */
    batchMaxReadings: z.number().int().min(1).max(50_000).default(5000),
    /** …gathered for at most this long (as the ingest batcher's window, so latency stays small). */
    batchMaxWaitMs: z.number().int().min(0).max(10_000).default(25),
    /** Unexported InfluxDB events are retried this often (events stay in SQLite until written). */
    exportEveryMs: z.number().int().min(100).default(10_000),
    rules: rulesSchema.prefault({}),
    soil: soilSchema,
    irrigation: irrigationSchema.prefault({}),
    valves: valvesSchema.prefault({}),
    /**
     * With several workers (`kampung state`): the villages this process owns; alerts, SMS and
     * Oksigen trees of other villages are left to their owner. Unset: every village (one process).
     */
    partition: partitionSchema.optional(),
  })
  .strict()

export type AlertsConfig = z.infer<typeof alertsSchema>
export type AlertsConfigInput = z.input<typeof alertsSchema>

export function parseAlertsConfig(input: AlertsConfigInput = {}): AlertsConfig {
  return alertsSchema.parse(input)
}
