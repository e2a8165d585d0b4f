import { resolveQuantity } from './aliases.ts'
import { QUANTITY_NAMES } from './quantities.ts'
import { type Collector, childPath } from './validate.ts'

/**
 * Decode a `{"<quantity>": number, "<sensor>/<quantity>": number}` map, as native JSON `values`
 * and network-server codec output carry it. Keys resolve through the alias table; a key splits at
 * its last `/` into sensor and quantity. Each bad key is one error; the other keys still count.
 */
export function decodeValueMap(
  values: Record<string, unknown>,
  path: string,
  timeMs: number,
  defaultSensor: string,
  out: Collector,
): void {
  // Paths are built only for errors, and duplicate series are found by scanning this entry's few
  // readings: the hot path of every native-JSON message allocates nothing it does not keep.
  const firstReading = out.readings.length
  const firstKeys: string[] = []
  for (const key in values) {
    if (!Object.hasOwn(values, key)) continue
    const value = values[key]
    const slash = key.lastIndexOf('/')
    const sensor = slash >= 0 ? key.slice(0, slash) : defaultSensor
    const name = slash >= 0 ? key.slice(slash + 1) : key
    const quantity = resolveQuantity(name)
    if (quantity === undefined) {
      out.error(
        childPath(path, key),
        'unknown_quantity',
        `unknown quantity ${JSON.stringify(name)}; expected one of ${QUANTITY_NAMES.join(', ')} or an alias`,
      )
      continue
    }
    // Two keys for one series at one time (e.g. `temp` and `temperature`) would overwrite each other.
    const dup = duplicateOf(out, firstReading, firstKeys, sensor, quantity)
    if (dup !== undefined) {
      out.error(
        childPath(path, key),
        'invalid_field',
        `duplicates ${childPath(path, dup)}: both are ${quantity} of sensor ${sensor}`,
      )
      continue
    }
    if (out.addAt(path, key, timeMs, sensor, quantity, value)) firstKeys.push(key)
  }
}

/** The key of an earlier reading of this entry with the same sensor and quantity, if any. */
function duplicateOf(
  out: Collector,
  from: number,
  keys: string[],
  sensor: string,
  quantity: string,
): string | undefined {
  for (let i = from; i < out.readings.length; i++) {
    const r = out.readings[i]!
    if (r.quantity === quantity && r.sensor === sensor) return keys[i - from]
  }
  return undefined
}
