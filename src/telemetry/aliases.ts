import { QUANTITY_NAMES, type Quantity } from './quantities.ts'

/**
 * Names nodes and codecs use for our quantities. Matching ignores case, `_`, `-`, `.` and spaces, so
 * `soilMoisture`, `soil_moisture`, `Soil-Moisture` and `SOILMOISTURE` are one key. Every canonical
 * quantity name is also accepted as itself.
 */
export const ALIASES: Readonly<Record<Quantity, readonly string[]>> = {
  soil_moisture: ['moisture', 'soilMoisture', 'vwc'],
  water_level: ['waterLevel', 'water_depth', 'awd', 'ponding'],
  soil_temperature: ['soilTemperature', 'soil_temp'],
  air_temperature: ['temperature', 'temp', 'airTemperature'],
  relative_humidity: ['humidity', 'rh'],
  pressure: ['barometer'],
  rainfall: ['rain', 'precipitation'],
  wind_speed: ['wind', 'windSpeed'],
  solar_radiation: ['solar', 'radiation', 'solarRadiation'],
  illuminance: ['lux'],
  stem_diameter: ['stemDiameter', 'dendrometer'],
  tree_height: ['height', 'treeHeight'],
  battery_voltage: ['battery', 'batteryVoltage', 'vbat'],
  signal_strength: ['rssi', 'signal'],
  latitude: ['lat'],
  longitude: ['lon', 'lng'],
  altitude: ['alt'],
}

export function normalizeKey(key: string): string {
  return key.toLowerCase().replace(/[\s._-]/g, '')
}

function buildTable(): Map<string, Quantity> {
  const table = new Map<string, Quantity>()
  for (const quantity of QUANTITY_NAMES) {
    for (const name of [quantity, ...ALIASES[quantity]]) {
      const key = normalizeKey(name)
      const taken = table.get(key)
      // A clash would make a key's meaning depend on table order: refuse to load instead.
      if (taken !== undefined && taken !== quantity) {
        throw new Error(`alias "${name}" names both ${taken} and ${quantity}`)
      }
      table.set(key, quantity)
    }
  }
  return table
}

const TABLE = buildTable()
/** Keys exactly as written in ALIASES (and the canonical names): the common case, no normalising. */
const EXACT = new Map<string, Quantity>(
  QUANTITY_NAMES.flatMap((q) => [q, ...ALIASES[q]].map((name) => [name, q] as [string, Quantity])),
)

/** The quantity a payload key names, or undefined when it names none we know. */
export function resolveQuantity(key: string): Quantity | undefined {
  return EXACT.get(key) ?? TABLE.get(normalizeKey(key))
}
