import { QUANTITIES, type Quantity } from './quantities.ts'

type Convert = (value: number) => number

const same: Convert = (v) => v
/** Conversions multiply by inexact factors (0.31 × 100 = 31.000000000000004): keep 12 significant digits. */
const tidy =
  (f: Convert): Convert =>
  (v) =>
    Number(f(v).toPrecision(12))
const KELVIN_AT_0_CELSIUS = 273.15
const DBM_PER_DBW = 30

/**
 * SenML units (RFC 8428 §12.1 and the IANA SenML Units registry, plus a few common non-registry
 * spellings such as `hPa`, `um`, `%VWC`) each quantity accepts, and how to reach its canonical unit.
 * The canonical unit is always accepted as is.
 */
export const UNIT_CONVERSIONS: Readonly<Record<Quantity, Readonly<Record<string, Convert>>>> = {
  soil_moisture: { '%VWC': same, '%': same, '/': tidy((v) => v * 100) },
  water_level: { cm: same, mm: tidy((v) => v / 10), m: tidy((v) => v * 100) },
  soil_temperature: { Cel: same, K: tidy((v) => v - KELVIN_AT_0_CELSIUS) },
  air_temperature: { Cel: same, K: tidy((v) => v - KELVIN_AT_0_CELSIUS) },
  relative_humidity: { '%RH': same, '%': same, '/': tidy((v) => v * 100) },
  pressure: { hPa: same, Pa: tidy((v) => v / 100), kPa: tidy((v) => v * 10) },
  rainfall: { mm: same },
  wind_speed: { 'm/s': same, 'km/h': tidy((v) => v / 3.6) },
  solar_radiation: { 'W/m2': same },
  illuminance: { lx: same },
  stem_diameter: { um: same, mm: tidy((v) => v * 1000), m: tidy((v) => v * 1e6) },
  tree_height: { m: same },
  battery_voltage: { V: same, mV: tidy((v) => v / 1000) },
  signal_strength: { dBm: same, dBW: tidy((v) => v + DBM_PER_DBW) },
  latitude: { lat: same, deg: same },
  longitude: { lon: same, deg: same },
  altitude: { m: same },
}

export type UnitResult = { ok: true; value: number } | { ok: false; message: string }

/** Convert `value` given in `unit` (undefined = canonical) to the quantity's canonical unit. */
export function toCanonical(quantity: Quantity, unit: string | undefined, value: number): UnitResult {
  if (unit === undefined) return { ok: true, value }
  const convert = UNIT_CONVERSIONS[quantity][unit]
  if (convert) return { ok: true, value: convert(value) }
  const accepted = Object.keys(UNIT_CONVERSIONS[quantity])
  return {
    ok: false,
    message: `unit ${JSON.stringify(unit)} is not compatible with ${quantity}; expected ${accepted
      .map((u) => JSON.stringify(u))
      .join(' or ')} (stored as ${QUANTITIES[quantity].unit})`,
  }
}
