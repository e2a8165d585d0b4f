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
  const seen = new Map<string, string>()
  for (const [key, value] of Object.entries(values)) {
    const keyPath = childPath(path, key)
    const slash = key.lastIndexOf('/')
    const sensor = slash >= 0 ? key.slice(0, slash) : defaultSensor
    const name = slash >= 0 ? key.slice(slash + 1) : key
    const quantity = resolveQuantity(name)
    if (quantity === undefined) {
      out.error(
        keyPath,
        'unknown_quantity',
        `unknown quantity ${JSON.stringify(name)}; expected one of ${QUANTITY_NAMES.join(', ')} or an alias`,
      )
      continue
    }
    // Two keys for one series at one time (e.g. `temp` and `temperature`) would overwrite each other.
    const series = `${sensor}\u0000${quantity}`
    const first = seen.get(series)
    if (first !== undefined) {
      out.error(keyPath, 'invalid_field', `duplicates ${first}: both are ${quantity} of sensor ${sensor}`)
      continue
    }
    seen.set(series, keyPath)
    out.add(keyPath, { timeMs, sensor, quantity, value })
  }
}
