import { localHours } from './solar.ts'
import type { SimReading } from './types.ts'

/**
 * A node's own status readings: battery voltage and, when it has GPS, its position.
 * A healthy node runs on a solar-charged Li-ion cell: charged to ~4.15 V in the afternoon, sagging
 * to ~4.0 V by dawn. Battery decline is a fault (see faults.ts), not part of this healthy model.
 */
export const BATTERY = {
  meanV: 4.08,
  /** Half the daily swing, V. */
  dailySwingV: 0.07,
  /** Fullest in mid-afternoon, after the panel has charged all day. */
  peakLocalHour: 15,
} as const

export function healthyBatteryV(timeMs: number): number {
  const h = localHours(timeMs)
  return BATTERY.meanV + BATTERY.dailySwingV * Math.cos((2 * Math.PI * (h - BATTERY.peakLocalHour)) / 24)
}

export interface NodeStatusOptions {
  /** Position, for nodes with GPS; omitted otherwise. */
  latDeg?: number
  lonDeg?: number
}

export function statusReadings(timeMs: number, options: NodeStatusOptions = {}): SimReading[] {
  const readings: SimReading[] = [{ quantity: 'battery_voltage', value: healthyBatteryV(timeMs) }]
  if (options.latDeg !== undefined && options.lonDeg !== undefined) {
    readings.push(
      { quantity: 'latitude', value: options.latDeg },
      { quantity: 'longitude', value: options.lonDeg },
    )
  }
  return readings
}
