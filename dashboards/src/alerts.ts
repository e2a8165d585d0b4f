import {
  agg,
  anyOf,
  type Condition,
  col,
  equals,
  SelectQuery,
  tagMatchesVariable,
  timeFilter,
} from './influxql.ts'

/**
 * The alerts engine writes one `alert_events` point per state change; an alert is active when the
 * latest event of its (village, field, rule) is firing, escalated (to the village officer) or
 * acknowledged. The inner query takes that
 * latest event with its state tag; the outer one keeps the active ones.
 */
export function activeAlerts(...extra: Condition[]): SelectQuery {
  const latest = SelectQuery.from(
    'events',
    'alert_events',
    agg('last', 'alert_id', 'alert_id'),
    col('state'),
    col('severity'),
    col('message'),
    col('value'),
  )
    .where(tagMatchesVariable('village', 'village'), ...extra, timeFilter)
    .groupBy('village', 'field', 'rule')
  return SelectQuery.fromSubquery(
    latest,
    col('alert_id'),
    col('field'),
    col('rule'),
    col('severity'),
    col('state'),
    col('message'),
    col('value'),
  ).where(anyOf(equals('state', 'firing'), equals('state', 'escalated'), equals('state', 'acknowledged')))
}
