import type { Quantity } from '../../src/telemetry/index.ts'

/** What a model reports at one time: one number about one quantity, in the quantity's canonical unit. */
export interface SimReading {
  quantity: Quantity
  value: number
}

/** A model advanced in simulated time; `step` returns the readings at `toMs`. */
export interface SteppableModel {
  readonly nowMs: number
  step(toMs: number): SimReading[]
}

/**
 * Advance from `fromMs` to `toMs` on a fixed grid of `subMs`, calling `advance(t0, t1)` for each
 * piece: a model stepped in 10-minute, hourly or daily calls reaches the same states.
 */
export function stepOnGrid(
  model: string,
  fromMs: number,
  toMs: number,
  subMs: number,
  advance: (t0: number, t1: number) => void,
): void {
  if (toMs < fromMs) throw new RangeError(`${model}.step: ${toMs} is before ${fromMs}`)
  for (let t = fromMs; t < toMs; ) {
    const next = Math.min(toMs, Math.floor(t / subMs) * subMs + subMs)
    advance(t, next)
    t = next
  }
}
