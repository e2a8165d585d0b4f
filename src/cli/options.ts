import { InvalidArgumentError } from 'commander'

/** A whole number ≥ 1 (`--limit 0`, `-5`, `1.5` and `abc` are refused, naming the option). */
export function positiveInt(name: string): (value: string) => number {
  return (value) => {
    const n = Number(value)
    if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < 1)
      throw new InvalidArgumentError(`${name} must be a whole number of 1 or more, not "${value}".`)
    return n
  }
}
