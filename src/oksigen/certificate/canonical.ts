/**
 * Canonical JSON: object keys sorted by UTF-16 code units, no whitespace, numbers and strings as
 * JSON.stringify writes them. For the values a record holds (strings, finite numbers, booleans,
 * null, arrays, plain objects) this is RFC 8785 (JCS), so anyone can rebuild the signed bytes with
 * any JCS library. Undefined object members are left out (as JSON.stringify does); anything that
 * JSON cannot carry faithfully (NaN, Infinity, undefined in an array, bigint, functions) throws.
 */
export function canonicalJson(value: unknown): string {
  return write(value, '$')
}

function write(value: unknown, path: string): string {
  if (value === null) return 'null'
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return JSON.stringify(value)
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`${path}: ${value} has no JSON form`)
      return JSON.stringify(value)
    case 'object': {
      if (Array.isArray(value)) {
        return `[${value
          .map((v, i) => {
            if (v === undefined) throw new TypeError(`${path}[${i}]: undefined in an array`)
            return write(v, `${path}[${i}]`)
          })
          .join(',')}]`
      }
      const proto = Object.getPrototypeOf(value)
      if (proto !== Object.prototype && proto !== null)
        throw new TypeError(`${path}: only plain objects are canonicalised`)
      const obj = value as Record<string, unknown>
      const members = Object.keys(obj)
        .filter((k) => obj[k] !== undefined)
        .sort()
        .map((k) => `${JSON.stringify(k)}:${write(obj[k], `${path}.${k}`)}`)
      return `{${members.join(',')}}`
    }
    default:
      throw new TypeError(`${path}: a ${typeof value} has no JSON form`)
  }
}
