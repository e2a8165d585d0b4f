import { disease } from './disease.ts'
import { dry } from './dry.ts'
import { heat } from './heat.ts'
import { heavyRain } from './heavy-rain.ts'
import type { RuleId } from './ids.ts'
import { irrigate } from './irrigate.ts'
import { moistureDrop } from './moisture-drop.ts'
import { sensorHealth } from './sensor-health.ts'
import type { AnyRuleFamily, RuleTexts } from './types.ts'
import { waterLevel } from './water-level.ts'
import { waterlogged } from './waterlogged.ts'

/**
 * The alert rule families, one file each (STYLE.md 12). The engine evaluates them in this order;
 * tests/alerts/rule-families.test.ts checks every file here is listed and every family complete.
 * Adding a rule: a file with its family (ids, config schema, quantities, evaluate, texts), its ids
 * in ids.ts, its config key in config.ts `rulesSchema`, and a line here.
 */
export const RULE_FAMILIES = [
  dry,
  waterlogged,
  moistureDrop,
  waterLevel,
  heavyRain,
  heat,
  disease,
  irrigate,
  sensorHealth,
] as const satisfies readonly AnyRuleFamily[]

/** Every rule's texts: a rule id without texts (or with one language missing) does not compile. */
export const RULE_TEXTS = {
  ...dry.texts,
  ...waterlogged.texts,
  ...moistureDrop.texts,
  ...waterLevel.texts,
  ...heavyRain.texts,
  ...heat.texts,
  ...disease.texts,
  ...irrigate.texts,
  ...sensorHealth.texts,
} satisfies Record<RuleId, RuleTexts>

export { blastConduciveDay, blastConduciveRun } from './disease.ts'
export { BMKG_RAIN_CLASSES, bmkgRainClass } from './heavy-rain.ts'
export { isRuleId, RULE_IDS, type RuleId } from './ids.ts'
export {
  type CropRules,
  cropsSchema,
  type DryingDay,
  fieldMoistureRule,
  fitDryingCycle,
  type LearnedSoil,
  learnedBand,
  type MoistureThreshold,
  probeFc,
} from './moisture.ts'
export * from './types.ts'
