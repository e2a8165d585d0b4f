/**
 * Every alert rule id the engine can raise. A family's `texts` are typed by its own ids, and
 * index.ts checks the union of all families' texts `satisfies Record<RuleId, RuleTexts>`: a new id
 * without texts in both languages does not compile.
 */
export const RULE_IDS = [
  'dry',
  'waterlogged',
  'moisture_drop',
  'water_low',
  'heavy_rain',
  'heat_stress',
  'disease_risk',
  'irrigate',
  'device_offline',
  'gateway_offline',
  'stuck',
  'out_of_range',
  'battery_low',
] as const

export type RuleId = (typeof RULE_IDS)[number]

export function isRuleId(s: string): s is RuleId {
  return (RULE_IDS as readonly string[]).includes(s)
}
