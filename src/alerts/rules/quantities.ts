import type { Quantity } from '../../telemetry/index.ts'

/** Quantities the rules speak of, by their telemetry names. */
export const SOIL = 'soil_moisture' satisfies Quantity
export const WATER_LEVEL = 'water_level' satisfies Quantity
export const RAIN = 'rainfall' satisfies Quantity
export const AIR = 'air_temperature' satisfies Quantity
export const RH = 'relative_humidity' satisfies Quantity
export const BATTERY = 'battery_voltage' satisfies Quantity
