import { z } from 'zod'
import { QUANTITY_NAMES, type Quantity } from '../../src/telemetry/index.ts'
import { gaussianAt, uniformAt } from './random.ts'
import { DAY_MS, localHours } from './solar.ts'
import type { SimReading } from './types.ts'

/**
 * Faults on demand, per node, applied to the node's stream of (time, readings) samples. A fault is
 * declared as JSON (`FaultSpec`), so a CLI flag or a config file can carry it; `validateFaultSpecs`
 * reports every problem at once as `path message`. All random decisions are hashes of
 * (seed, fault index, time), so a fault hits the same readings however the node is stepped.
 * Times are epoch milliseconds; a fault is active in [fromMs, toMs) (no toMs: for good).
 */

const epochMs = z.number().int().nonnegative()
const quantity = z.enum(QUANTITY_NAMES as [Quantity, ...Quantity[]])
const window = { fromMs: epochMs, toMs: epochMs.optional() }
const probability = z.number().gt(0).lte(1)

export const faultSpecSchema = z.discriminatedUnion('kind', [
  /** No reading: the whole sample (or one quantity) is lost, always or with `probability`. */
  z.strictObject({
    kind: z.literal('dropout'),
    ...window,
    probability: probability.default(1),
    quantity: quantity.optional(),
  }),
  /** The value freezes at its last value before the fault (all quantities, or one). */
  z.strictObject({ kind: z.literal('stuck'), ...window, quantity: quantity.optional() }),
  /** Occasional outliers: value ± `magnitude` (canonical units; default per quantity) with `probability`. */
  z.strictObject({
    kind: z.literal('spike'),
    ...window,
    probability: probability.default(0.01),
    magnitude: z.number().positive().optional(),
    quantity: quantity.optional(),
  }),
  /** A linear offset growing by `perDay` canonical units per day since `fromMs`. */
  z.strictObject({
    kind: z.literal('drift'),
    ...window,
    quantity,
    perDay: z.number().refine((v) => v !== 0, 'must not be 0'),
  }),
  /** The battery runs down by `voltsPerDay`; at `brownOutV` the node stops sending. */
  z.strictObject({
    kind: z.literal('battery_decline'),
    fromMs: epochMs,
    voltsPerDay: z.number().positive().default(0.05),
    brownOutV: z.number().min(2).max(4).default(3.3),
  }),
  /** The node's clock is off by `offsetMs` (its timestamps, not the truth). */
  z.strictObject({ kind: z.literal('clock_skew'), ...window, offsetMs: z.number().int() }),
  /** The node sends no timestamp (the receiver has to stamp it). */
  z.strictObject({ kind: z.literal('no_clock'), ...window }),
  /** The tree died: no daily cycle, no growth; the diameter stays put with sensor noise only. */
  z.strictObject({
    kind: z.literal('dead_tree'),
    fromMs: epochMs,
    noiseUm: z.number().nonnegative().default(1),
  }),
  /**
   * Model faults (the node hands them to its StemModel, which changes the physics, not the
   * readings): the tree dies and its dead stem swells and shrinks with air humidity and rain, no
   * growth; or the dendrometer is put on a wooden post that does the same.
   */
  z.strictObject({ kind: z.literal('dead_stem'), fromMs: epochMs }),
  z.strictObject({
    kind: z.literal('hygroscopic_post'),
    fromMs: epochMs,
    postDiameterUm: z.number().positive().optional(),
  }),
  /** The dendrometer sits on a post: constant (another diameter if given) with a tiny thermal cycle. */
  z.strictObject({
    kind: z.literal('post'),
    fromMs: epochMs,
    postDiameterUm: z.number().positive().optional(),
    thermalAmplitudeUm: z.number().nonnegative().default(1),
    noiseUm: z.number().nonnegative().default(1),
  }),
  /** The dendrometer was taken off and put back: one jump of `offsetUm` at `atMs`. */
  z.strictObject({
    kind: z.literal('remount'),
    atMs: epochMs,
    offsetUm: z
      .number()
      .refine((v) => v !== 0, 'must not be 0')
      .refine((v) => Math.abs(v) <= 20_000, 'must be within ±20000 µm'),
  }),
  /** The node was carried elsewhere: its GPS reports the new position. */
  z.strictObject({
    kind: z.literal('moved'),
    fromMs: epochMs,
    latDeg: z.number().min(-90).max(90),
    lonDeg: z.number().min(-180).max(180),
  }),
])

export const faultSpecsSchema = z.array(faultSpecSchema)

/** A fault as written in JSON (defaults may be left out). */
export type FaultSpec = z.input<typeof faultSpecSchema>
/** A fault with its defaults filled in. */
export type ResolvedFaultSpec = z.output<typeof faultSpecSchema>
export type FaultKind = FaultSpec['kind']

export type FaultValidation = { ok: true; specs: ResolvedFaultSpec[] } | { ok: false; errors: string[] }

function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '$'
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : `.${String(p)}`
  return out
}

/** Check fault specs (an array, or one spec); every error as `path message`. */
export function validateFaultSpecs(input: unknown): FaultValidation {
  const list = Array.isArray(input) ? input : [input]
  const parsed = faultSpecsSchema.safeParse(list)
  if (!parsed.success) {
    return { ok: false, errors: parsed.error.issues.map((i) => `${formatPath(i.path)} ${i.message}`) }
  }
  const errors: string[] = []
  parsed.data.forEach((spec, i) => {
    if ('toMs' in spec && spec.toMs !== undefined && spec.toMs <= spec.fromMs) {
      errors.push(`$[${i}].toMs must be after fromMs`)
    }
  })
  return errors.length > 0 ? { ok: false, errors } : { ok: true, specs: parsed.data }
}

/** Parse the JSON text of a `--faults` flag or file. */
export function parseFaultSpecs(json: string): FaultValidation {
  let input: unknown
  try {
    input = JSON.parse(json)
  } catch (err) {
    return { ok: false, errors: [`$ is not JSON: ${(err as Error).message}`] }
  }
  return validateFaultSpecs(input)
}

/** Size of a spike when the spec gives none, canonical units: clearly wrong, mostly still in range. */
export const DEFAULT_SPIKE_MAGNITUDE: Partial<Record<Quantity, number>> = {
  soil_moisture: 30,
  soil_temperature: 20,
  air_temperature: 20,
  relative_humidity: 40,
  pressure: 50,
  rainfall: 50,
  wind_speed: 20,
  solar_radiation: 800,
  stem_diameter: 3000,
  battery_voltage: 1,
  water_level: 30,
}

/** Fault kinds that change a model's physics instead of its readings (see SimNode). */
export const MODEL_FAULT_KINDS = ['dead_stem', 'hygroscopic_post'] as const
export type ModelFaultSpec = Extract<ResolvedFaultSpec, { kind: (typeof MODEL_FAULT_KINDS)[number] }>

export function isModelFault(spec: ResolvedFaultSpec): spec is ModelFaultSpec {
  return (MODEL_FAULT_KINDS as readonly string[]).includes(spec.kind)
}

/** One sample as the node would send it; `timeMs` null when the node has no clock. */
export interface FaultedSample {
  timeMs: number | null
  readings: SimReading[]
}

export interface FaultInjectorOptions {
  specs: readonly FaultSpec[]
  seed: number
}

const QUANTITY_INDEX = new Map(QUANTITY_NAMES.map((q, i) => [q, i]))

/**
 * Applies a node's faults to its samples, in the order they are listed. Stateful only for what a
 * fault must remember (the value a stuck sensor froze at), so feed it one node's samples in time order.
 */
export class FaultInjector {
  readonly specs: readonly ResolvedFaultSpec[]
  private readonly seed: number
  /** Per fault: the last value each quantity had on the way into that fault, before it began. */
  private readonly lastInput: Array<Map<Quantity, number>>
  private readonly frozen: Array<Map<Quantity, number>>
  private brownedOut = false

  constructor(options: FaultInjectorOptions) {
    const validation = validateFaultSpecs(options.specs)
    if (!validation.ok) throw new TypeError(`invalid fault specs: ${validation.errors.join('; ')}`)
    this.specs = validation.specs
    this.seed = options.seed >>> 0
    this.lastInput = this.specs.map(() => new Map())
    this.frozen = this.specs.map(() => new Map())
  }

  /** The faults active at `timeMs`. */
  activeAt(timeMs: number): ResolvedFaultSpec[] {
    return this.specs.filter((s) => isActive(s, timeMs))
  }

  /** The sample the node sends at `timeMs`, or null when it sends nothing. */
  apply(timeMs: number, readings: readonly SimReading[]): FaultedSample | null {
    if (this.brownedOut) return null
    let sample: FaultedSample = { timeMs, readings: readings.map((r) => ({ ...r })) }
    for (let i = 0; i < this.specs.length; i++) {
      const spec = this.specs[i]!
      const active = isActive(spec, timeMs)
      if (!active) {
        for (const r of sample.readings) this.lastInput[i]!.set(r.quantity, r.value)
        this.frozen[i]!.clear()
        continue
      }
      const next = this.applyOne(i, spec, timeMs, sample)
      if (next === null) return null
      sample = next
    }
    return sample
  }

  private freezeValue(i: number, q: Quantity, current: number): number {
    const frozen = this.frozen[i]!
    let v = frozen.get(q)
    if (v === undefined) {
      v = this.lastInput[i]!.get(q) ?? current
      frozen.set(q, v)
    }
    return v
  }

  private applyOne(
    i: number,
    spec: ResolvedFaultSpec,
    timeMs: number,
    sample: FaultedSample,
  ): FaultedSample | null {
    const key = (q: Quantity) => QUANTITY_INDEX.get(q) ?? 0
    const map = (fn: (r: SimReading) => SimReading | null): FaultedSample => ({
      timeMs: sample.timeMs,
      readings: sample.readings.map(fn).filter((r): r is SimReading => r !== null),
    })
    const stemNoise = (sigma: number) => sigma * gaussianAt(this.seed, 500 + i, timeMs)
    switch (spec.kind) {
      case 'dropout': {
        const hit = (q: number) => uniformAt(this.seed, 100 + i, timeMs, q) < spec.probability
        if (spec.quantity === undefined) return hit(-1) ? null : sample
        return map((r) => (r.quantity === spec.quantity && hit(key(r.quantity)) ? null : r))
      }
      case 'stuck':
        return map((r) =>
          spec.quantity === undefined || r.quantity === spec.quantity
            ? { quantity: r.quantity, value: this.freezeValue(i, r.quantity, r.value) }
            : r,
        )
      case 'spike':
        return map((r) => {
          if (spec.quantity !== undefined && r.quantity !== spec.quantity) return r
          if (uniformAt(this.seed, 200 + i, timeMs, key(r.quantity)) >= spec.probability) return r
          const magnitude =
            spec.magnitude ?? DEFAULT_SPIKE_MAGNITUDE[r.quantity] ?? Math.abs(r.value) * 0.5 + 1
          const sign = uniformAt(this.seed, 300 + i, timeMs, key(r.quantity)) < 0.5 ? -1 : 1
          return { quantity: r.quantity, value: r.value + sign * magnitude }
        })
      case 'drift': {
        const offset = (spec.perDay * (timeMs - spec.fromMs)) / DAY_MS
        return map((r) =>
          r.quantity === spec.quantity ? { quantity: r.quantity, value: r.value + offset } : r,
        )
      }
      case 'battery_decline': {
        const dropV = (spec.voltsPerDay * (timeMs - spec.fromMs)) / DAY_MS
        const input = sample.readings.find((r) => r.quantity === 'battery_voltage')?.value ?? 4.1
        const volts = input - dropV
        if (volts <= spec.brownOutV) {
          this.brownedOut = true
          return null
        }
        return map((r) => (r.quantity === 'battery_voltage' ? { quantity: r.quantity, value: volts } : r))
      }
      case 'clock_skew':
        return {
          timeMs: sample.timeMs === null ? null : sample.timeMs + spec.offsetMs,
          readings: sample.readings,
        }
      case 'no_clock':
        return { timeMs: null, readings: sample.readings }
      case 'dead_stem':
      case 'hygroscopic_post':
        return sample // the model changed its physics (SimNode handed the fault to it)
      case 'dead_tree':
        return map((r) =>
          r.quantity === 'stem_diameter'
            ? {
                quantity: r.quantity,
                value: this.freezeValue(i, r.quantity, r.value) + stemNoise(spec.noiseUm),
              }
            : r,
        )
      case 'post': {
        // Wood and the sensor frame expand a little in the afternoon heat: the opposite phase of a tree.
        const thermal = spec.thermalAmplitudeUm * Math.cos((2 * Math.PI * (localHours(timeMs) - 14)) / 24)
        return map((r) => {
          if (r.quantity !== 'stem_diameter') return r
          const base = spec.postDiameterUm ?? this.freezeValue(i, r.quantity, r.value)
          return { quantity: r.quantity, value: base + thermal + stemNoise(spec.noiseUm) }
        })
      }
      case 'remount':
        return map((r) =>
          r.quantity === 'stem_diameter' ? { quantity: r.quantity, value: r.value + spec.offsetUm } : r,
        )
      case 'moved':
        return map((r) => {
          if (r.quantity === 'latitude') return { quantity: r.quantity, value: spec.latDeg }
          if (r.quantity === 'longitude') return { quantity: r.quantity, value: spec.lonDeg }
          return r
        })
    }
  }
}

function isActive(spec: ResolvedFaultSpec, timeMs: number): boolean {
  if (spec.kind === 'remount') return timeMs >= spec.atMs
  if (timeMs < spec.fromMs) return false
  return !('toMs' in spec) || spec.toMs === undefined || timeMs < spec.toMs
}
