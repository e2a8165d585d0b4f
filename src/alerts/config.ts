import { z } from 'zod'
import type { CropId } from '../agronomy/index.ts'
import { partitionSchema } from './partition.ts'

/**
 * The `alerts` section of the one config schema (src/config.ts). Every rule has a default, so
 * alerts work with no config at all; every key is validated with its path, unknown keys rejected.
 * Durations are ms, moisture %VWC, temperatures °C, rain mm.
 */

const MINUTE_MS = 60_000
const HOUR_MS = 60 * MINUTE_MS

export const SEVERITIES = ['info', 'warning', 'critical'] as const
export type Severity = (typeof SEVERITIES)[number]
const severity = z.enum(SEVERITIES)
const durationMs = z.number().int().min(0)
const clock = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'expected HH:MM (24 h)')

/**
 * One threshold on soil moisture, with the crop's own defaults so a config may change one key;
 * `hysteresisPct` is how far back the value must come before the alert resolves.
 */
function moistureThreshold(d: {
  thresholdPct: number
  forMs: number
  enabled?: boolean
  severity?: Severity
}) {
  return z
    .object({
      enabled: z.boolean().default(d.enabled ?? true),
      thresholdPct: z.number().min(0).max(100).default(d.thresholdPct),
      forMs: durationMs.default(d.forMs),
      hysteresisPct: z.number().min(0).max(50).default(3),
      severity: severity.default(d.severity ?? 'warning'),
    })
    .strict()
    .prefault({})
}
export interface MoistureThreshold {
  enabled: boolean
  thresholdPct: number
  forMs: number
  hysteresisPct: number
  severity: Severity
}

/** Stage overrides carry only what they change (no defaults, or they would mask the crop's rule). */
const moistureOverride = z
  .object({
    enabled: z.boolean(),
    thresholdPct: z.number().min(0).max(100),
    forMs: durationMs,
    hysteresisPct: z.number().min(0).max(50),
    severity,
  })
  .partial()
  .strict()
const stageOverrides = z
  .object({
    dry: moistureOverride.optional(),
    waterlogged: moistureOverride.optional(),
  })
  .strict()
type StageOverrides = z.input<typeof stageOverrides>

function cropRules(
  dry: Parameters<typeof moistureThreshold>[0],
  waterlogged: Parameters<typeof moistureThreshold>[0],
  stages: Partial<Record<'initial' | 'development' | 'mid' | 'late', StageOverrides>> = {},
) {
  return z
    .object({
      dry: moistureThreshold(dry),
      waterlogged: moistureThreshold(waterlogged),
      /** Per growth stage (FAO-56 stages), merged over the crop's rule. */
      stages: z
        .object({
          initial: stageOverrides.optional(),
          development: stageOverrides.optional(),
          mid: stageOverrides.optional(),
          late: stageOverrides.optional(),
        })
        .strict()
        .default(stages),
    })
    .strict()
    .prefault({})
}

/*
 * Crop defaults for the simulator's loam (FC 30 %, WP 14 %, saturation 45 % VWC) and FAO-56
 * Table 22 depletion fractions p: stress starts below FC − p·(FC − WP).
 * maize p 0.55 → 21 %; chili p 0.30 → 25 %; rice p 0.20 but a paddy should stay near saturation
 * (45 %): dry below 38 % means the standing water is gone and the soil is draining.
 */
const cropsSchema = z
  .object({
    // One entry per agronomy crop: a crop added there and not here fails to compile.
    rice: cropRules(
      { thresholdPct: 38, forMs: 3 * HOUR_MS },
      // A paddy is meant to be flooded: no waterlogging rule.
      { thresholdPct: 100, forMs: 2 * HOUR_MS, enabled: false },
      // Water shortage at flowering (mid season) costs most yield.
      { mid: { dry: { severity: 'critical' } } },
    ),
    maize: cropRules({ thresholdPct: 21, forMs: 3 * HOUR_MS }, { thresholdPct: 40, forMs: 12 * HOUR_MS }),
    // Chili roots rot after a few hours in saturated soil.
    chili: cropRules({ thresholdPct: 25, forMs: 2 * HOUR_MS }, { thresholdPct: 38, forMs: 6 * HOUR_MS }),
  } satisfies Record<CropId, z.ZodType>)
  .strict()
  .prefault({})
export type CropRules = z.infer<typeof cropsSchema>['rice']

const rulesSchema = z
  .object({
    crops: cropsSchema,
    /** A sudden fall of soil moisture (a breached bund, a sensor pulled out). */
    moistureDrop: z
      .object({
        enabled: z.boolean().default(true),
        dropPct: z.number().positive().default(8),
        windowMs: durationMs.default(HOUR_MS),
        severity: severity.default('warning'),
      })
      .strict()
      .prefault({}),
    /** BMKG: 50–100 mm/day "hujan lebat", > 100 mm/day "sangat lebat". */
    heavyRain: z
      .object({
        enabled: z.boolean().default(true),
        mm: z.number().positive().default(50),
        windowMs: durationMs.default(24 * HOUR_MS),
        hysteresisMm: z.number().min(0).default(10),
        severity: severity.default('critical'),
      })
      .strict()
      .prefault({}),
    heatStress: z
      .object({
        enabled: z.boolean().default(true),
        aboveC: z.number().default(35),
        forMs: durationMs.default(2 * HOUR_MS),
        hysteresisC: z.number().min(0).default(1),
        severity: severity.default('warning'),
      })
      .strict()
      .prefault({}),
    /** Hours of high humidity in a temperature band within a window (blast, anthracnose). */
    diseaseRisk: z
      .object({
        enabled: z.boolean().default(true),
        rhAbovePct: z.number().min(0).max(100).default(90),
        tempMinC: z.number().default(20),
        tempMaxC: z.number().default(30),
        hours: z.number().positive().default(12),
        windowMs: durationMs.default(24 * HOUR_MS),
        hysteresisHours: z.number().min(0).default(4),
        severity: severity.default('warning'),
      })
      .strict()
      .prefault({}),
    sensorHealth: z
      .object({
        enabled: z.boolean().default(true),
        /** A node that sent nothing for this long is offline. */
        offlineAfterMs: durationMs.default(60 * MINUTE_MS),
        /** A gateway reported offline (status topic) for this long. */
        gatewayOfflineAfterMs: durationMs.default(15 * MINUTE_MS),
        /** The same value for this long means a stuck sensor. */
        stuckForMs: durationMs.default(6 * HOUR_MS),
        stuckQuantities: z.array(z.string()).default(['soil_moisture', 'air_temperature']),
        /**
         * Plausible ranges, narrower than the physical ranges ingest enforces: a soil probe reading
         * 0 % or 80 % VWC in a loam is out of the soil or broken.
         */
        plausible: z
          .record(z.string(), z.object({ min: z.number(), max: z.number() }).strict())
          .default({ soil_moisture: { min: 2, max: 60 }, air_temperature: { min: 10, max: 45 } }),
        outOfRangeForMs: durationMs.default(30 * MINUTE_MS),
        batteryLowV: z.number().positive().default(3.5),
        batteryForMs: durationMs.default(30 * MINUTE_MS),
        severity: severity.default('warning'),
      })
      .strict()
      .prefault({}),
  })
  .strict()
export type AlertRules = z.infer<typeof rulesSchema>

const irrigationSchema = z
  .object({
    enabled: z.boolean().default(true),
    /** Latitude of the villages' weather stations (one value for the district: ~0.1° changes ET0 little). */
    latitudeDeg: z.number().min(-90).max(90).default(-8.22),
    elevationM: z.number().default(50),
    /** Height of the weather station's anemometer (FAO-56 eq. 47 brings it to 2 m). */
    windHeightM: z.number().min(0.5).default(2),
    /** A day with at least this much rain refills the root zone: the balance restarts after it. */
    soakingRainMm: z.number().positive().default(20),
    /** The balance covers at most this many days. */
    maxBalanceDays: z.number().int().min(1).max(30).default(7),
    /** A day is closed this long after local midnight (late readings from gateway backlogs). */
    closeDayAfterMs: durationMs.default(HOUR_MS),
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
    irrigation: irrigationSchema.prefault({}),
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
