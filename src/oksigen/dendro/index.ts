export type { Coupling, LifeDay, LifeEvidence, LifeOptions, LifeSnapshot, LifeSpecies } from './life.ts'
export {
  dayShrinkageUm,
  LIFE_DEFAULTS,
  LifeTracker,
  meanDailyShrinkage,
  pearson,
  shrinkageMethod,
} from './life.ts'
export type { CycleEvidence, Flag, FlagKind, FlagSeverity, Liveness, LivenessOptions } from './liveness.ts'
export { assessLiveness, dailyCycle, hasFailure, LIVENESS_DEFAULTS } from './liveness.ts'
export type { DendroOptions } from './options.ts'
export { DENDRO_DEFAULTS, LOCATION_DEFAULTS, resolveDendroOptions } from './options.ts'
export type { DendroDay, DendroJump, DendroLocation, DendroSnapshot, DendroState } from './processor.ts'
export { DendroProcessor, fitDailyCycle, haversineM } from './processor.ts'
export { quantileSorted, treenetprocBounds } from './stats.ts'
export type { StepBounds } from './step-stats.ts'
export { StepHistogram } from './step-stats.ts'
export type { WeatherDay } from './weather.ts'
export { VILLAGE_WEATHER_DEFAULTS, VillageWeather, vpdKpa } from './weather.ts'
