/**
 * Physical models for the simulated nodes: weather, soil water balance, stem growth, node status
 * and faults. Pure TypeScript, deterministic from a seed, steppable in simulated time.
 *
 *   const weather = new WeatherModel({ seed: 1 })
 *   const station = new WeatherStation({ weather, startMs })
 *   const field = new SoilModel({ weather, crop: 'maize', plantedAtMs, startMs })
 *   const tree = new StemModel({ weather, species: 'teak', plantedAtMs, startMs })
 *   field.step(startMs + 3_600_000) // → [{ quantity: 'soil_moisture', value }, ...]
 */

export type { MonthClimate } from './climate.ts'
export { climateAtDoy, isWetSeasonMonth, MONTHLY_CLIMATE, monthClimate } from './climate.ts'
export type {
  FaultedSample,
  FaultInjectorOptions,
  FaultKind,
  FaultSpec,
  FaultValidation,
  ModelFaultSpec,
  ResolvedFaultSpec,
} from './faults.ts'
export {
  DEFAULT_SPIKE_MAGNITUDE,
  FaultInjector,
  faultSpecSchema,
  faultSpecsSchema,
  isModelFault,
  MODEL_FAULT_KINDS,
  parseFaultSpecs,
  validateFaultSpecs,
} from './faults.ts'
export type { SimNodeOptions } from './node.ts'
export { SimNode } from './node.ts'
export type { PaddyModelOptions, PaddyWaterOptions, PaddyWaterState } from './paddy.ts'
export { PADDY_DEFAULTS, PaddyModel, PaddyWater } from './paddy.ts'
export { gaussianAt, hash32, mulberry32, seedFromString, uniformAt, valueNoise } from './random.ts'
export type { Crop, CropParams, SoilOptions, SoilParams, SoilState } from './soil.ts'
export {
  CROPS,
  cropCoefficient,
  LOAM,
  priestleyTaylorEtMmH,
  SOIL_DEFAULTS,
  SoilModel,
  SoilModel as Field,
} from './soil.ts'
export {
  BANYUWANGI,
  clearSkyGhiWm2,
  cloudFactor,
  DAY_MS,
  dayOfYear,
  HOUR_MS,
  JAKARTA_UTC_OFFSET_H,
  localDayIndex,
  localDayStartMs,
  localHours,
  localMonth,
  solarDeclinationRad,
  solarNoonElevationDeg,
  solarTimeH,
  sunElevationDeg,
  sunPosition,
} from './solar.ts'
export type { NodeStatusOptions } from './status.ts'
export { BATTERY, healthyBatteryV, statusReadings } from './status.ts'
export type {
  Species,
  SpeciesParams,
  StemConditionChange,
  StemOptions,
  StemState,
  StemTruth,
} from './stem.ts'
export { SPECIES, STEM_DEFAULTS, StemModel, StemModel as Tree } from './stem.ts'
export type { SimReading, SteppableModel } from './types.ts'
export type {
  DailyWeatherSummary,
  RainEvent,
  WeatherOptions,
  WeatherState,
  WeatherStationOptions,
} from './weather.ts'
export {
  relativeHumidityPct,
  STATION_NOISE,
  saturationVapourPressureKpa,
  WEATHER_DEFAULTS,
  WeatherModel,
  WeatherStation,
} from './weather.ts'
