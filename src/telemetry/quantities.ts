/**
 * The quantities the system knows, each with its one canonical unit and the physical range a
 * working sensor can report. A reading outside the range is rejected as `out_of_range`: it is a
 * broken sensor or a decoding error, never weather.
 */
export const QUANTITIES = {
  soil_moisture: { unit: '%VWC', min: 0, max: 100, description: 'volumetric soil water content' },
  /**
   * Standing water in a paddy, cm relative to the soil surface (negative: below it), read in an
   * AWD field tube (IRRI's perforated tube reaches ~20–25 cm down; a deep drain-down a little more).
   */
  water_level: {
    unit: 'cm',
    min: -40,
    max: 30,
    description: 'paddy water level relative to the soil surface',
  },
  soil_temperature: { unit: 'Cel', min: -20, max: 80, description: 'soil temperature' },
  air_temperature: { unit: 'Cel', min: -40, max: 70, description: 'air temperature' },
  relative_humidity: { unit: '%RH', min: 0, max: 100, description: 'relative humidity' },
  pressure: { unit: 'hPa', min: 300, max: 1100, description: 'barometric pressure' },
  rainfall: { unit: 'mm', min: 0, max: 500, description: 'rain since the previous report' },
  wind_speed: { unit: 'm/s', min: 0, max: 80, description: 'wind speed' },
  solar_radiation: { unit: 'W/m2', min: 0, max: 1600, description: 'global solar radiation' },
  illuminance: { unit: 'lx', min: 0, max: 200_000, description: 'illuminance' },
  stem_diameter: { unit: 'um', min: 0, max: 5_000_000, description: 'stem diameter from a dendrometer' },
  tree_height: { unit: 'm', min: 0, max: 120, description: 'tree height' },
  battery_voltage: { unit: 'V', min: 0, max: 30, description: 'node battery voltage' },
  signal_strength: { unit: 'dBm', min: -150, max: 0, description: 'radio signal strength (RSSI)' },
  latitude: { unit: 'deg', min: -90, max: 90, description: 'node latitude (WGS 84)' },
  longitude: { unit: 'deg', min: -180, max: 180, description: 'node longitude (WGS 84)' },
  altitude: { unit: 'm', min: -500, max: 9000, description: 'node altitude' },
} as const satisfies Record<string, { unit: string; min: number; max: number; description: string }>

export type Quantity = keyof typeof QUANTITIES
export const QUANTITY_NAMES = Object.keys(QUANTITIES) as Quantity[]

export function isQuantity(name: string): name is Quantity {
  return Object.hasOwn(QUANTITIES, name)
}

export function unitOf(quantity: Quantity): string {
  return QUANTITIES[quantity].unit
}
