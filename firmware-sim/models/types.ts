import type { Quantity } from '../../src/telemetry/quantities.ts'

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
