import type * as cog from '@grafana/grafana-foundation-sdk/cog'
import type * as common from '@grafana/grafana-foundation-sdk/common'
import {
  AnnotationQueryBuilder,
  DashboardBuilder,
  DashboardLinkBuilder,
  DashboardLinkType,
  QueryVariableBuilder,
  VariableHide,
  VariableRefresh,
  VariableSort,
} from '@grafana/grafana-foundation-sdk/dashboard'
import { DataqueryBuilder as PromQueryBuilder } from '@grafana/grafana-foundation-sdk/prometheus'
import { quoteIdent, RANGE_POLICIES_MEASUREMENT, RANGE_POLICIES_RP } from '../../src/store/index.ts'
import {
  type Condition,
  type RetentionPolicy,
  type SelectQuery,
  showTagValues,
  tagMatchesVariable,
  type VariableName,
} from './influxql.ts'

/** Datasource uids: fixed here and in provisioning/datasources/kampung.yaml. */
export const INFLUX: common.DataSourceRef = { type: 'influxdb', uid: 'kampung-influxdb' }
export const PROMETHEUS: common.DataSourceRef = { type: 'prometheus', uid: 'kampung-prometheus' }

/** The JSON Grafana stores for one InfluxQL (raw mode) panel query. */
export interface InfluxTarget {
  refId: string
  datasource: common.DataSourceRef
  query: string
  rawQuery: true
  resultFormat: 'time_series' | 'table'
  /** Series name pattern (`$tag_device`, `$col`). */
  alias?: string
}

/** A target the SDK's panel builders accept; only the data fields reach the JSON. */
export function influx(
  refId: string,
  query: SelectQuery,
  options: { format?: 'time_series' | 'table'; alias?: string } = {},
): cog.Builder<cog.Dataquery> {
  const target: InfluxTarget & cog.Dataquery = {
    refId,
    datasource: INFLUX,
    query: query.toString(),
    rawQuery: true,
    resultFormat: options.format ?? 'time_series',
    ...(options.alias ? { alias: options.alias } : {}),
    _implementsDataqueryVariant() {},
  }
  return { build: () => target }
}

/** A PromQL target: shown by Grafana from the provisioned Prometheus datasource. */
export function promql(refId: string, expr: string, legendFormat: string): cog.Builder<cog.Dataquery> {
  return new PromQueryBuilder()
    .refId(refId)
    .datasource(PROMETHEUS)
    .expr(expr)
    .legendFormat(legendFormat)
    .range()
}

interface VariableOptions {
  label: string
  rp: RetentionPolicy
  measurement: string
  key: string
  where?: Condition[]
  multi?: boolean
}

/**
 * A template variable filled by `SHOW TAG VALUES`. Multi-value variables get "All" as `.*`, so
 * `/^($village)$/` matches every village without Grafana listing them all in the query.
 */
export function tagVariable(name: VariableName, o: VariableOptions): QueryVariableBuilder {
  const query = showTagValues(o.rp, o.measurement, o.key, ...(o.where ?? []))
  const v = new QueryVariableBuilder(name)
    .label(o.label)
    .datasource(INFLUX)
    .query(query)
    .definition(query)
    .refresh(VariableRefresh.OnTimeRangeChanged)
    .sort(VariableSort.AlphabeticalAsc)
  return o.multi ? v.multi(true).includeAll(true).allValue('.*') : v.multi(false).includeAll(false)
}

/**
 * `$rp`: the readings' retention policy for the dashboard's time range, hidden, refreshed when
 * the range changes. The table is written by the store's start() (InfluxStore.rangePolicies():
 * raw for ranges up to 2 d that start within its 90 d, rp_1h up to 30 d, rp_1d beyond or older); the query picks the
 * policy with the shortest duration (its point's time) that holds the range's start and whose
 * max_range_ms covers the range. Grafana replaces `${__from}`/`${__to}` (ms) in variable queries.
 */
export function rangePolicyVariable(): QueryVariableBuilder {
  return rangePolicyTableVariable(
    'rp',
    'rp',
    'Retention policy',
    'raw readings for short recent ranges, hourly means (rp_1h) up to 30 d, daily ones (rp_1d) beyond',
  )
}

/** `$sumfield`: in the policy `$rp` chose, the field whose sum is the readings' sum (same row). */
export function rangeSumFieldVariable(): QueryVariableBuilder {
  return rangePolicyTableVariable(
    'sumfield',
    'sum_field',
    'Sum field',
    'raw: value; rp_1h, rp_1d: sum (hourly, daily sums)',
  )
}

function rangePolicyTableVariable(
  name: 'rp' | 'sumfield',
  field: string,
  label: string,
  description: string,
): QueryVariableBuilder {
  const from = '$' + '{__from}'
  const to = '$' + '{__to}'
  const query =
    `SELECT ${quoteIdent(field)} FROM ${quoteIdent(RANGE_POLICIES_RP)}.${quoteIdent(RANGE_POLICIES_MEASUREMENT)} ` +
    `WHERE ${quoteIdent('max_range_ms')} >= ${to} - ${from} AND time > now() - ${from}ms LIMIT 1`
  return new QueryVariableBuilder(name)
    .label(label)
    .description(description)
    .datasource(INFLUX)
    .query(query)
    .definition(query)
    .refresh(VariableRefresh.OnTimeRangeChanged)
    .hide(VariableHide.HideVariable)
    .multi(false)
    .includeAll(false)
}

/** Every node reports its battery: the village list is the list of villages with nodes. */
export function villageVariable(multi: boolean): QueryVariableBuilder {
  return tagVariable('village', {
    label: 'Village',
    rp: 'raw',
    measurement: 'battery_voltage',
    key: 'village',
    multi,
  })
}

/**
 * Alerts as annotations: every state change of an alert (firing, acknowledged, resolved) of the
 * selected villages, from the alerts engine's `alert_events`.
 */
export function alertAnnotations(...extra: Condition[]): AnnotationQueryBuilder {
  const where = [tagMatchesVariable('village', 'village'), ...extra].map((c) => c.text).join(' AND ')
  const query =
    'SELECT "message", "state", "rule", "severity", "field" FROM "events"."alert_events" ' +
    `WHERE ${where} AND $timeFilter`
  const target: cog.Dataquery & Record<string, unknown> = {
    refId: 'Anno',
    query,
    rawQuery: true,
    fromAnnotations: true,
    textColumn: 'message',
    tagsColumn: 'state,rule,severity,field',
    _implementsDataqueryVariant() {},
  }
  return new AnnotationQueryBuilder()
    .name('Alerts')
    .datasource(INFLUX)
    .enable(true)
    .iconColor('red')
    .target({ build: () => target })
}

/** What every smart-kampung dashboard shares: tags, time zone, range, refresh, a link to the others. */
export function baseDashboard(uid: string, title: string, description: string): DashboardBuilder {
  return new DashboardBuilder(title)
    .uid(uid)
    .description(description)
    .tags(['smart-kampung'])
    .timezone('Asia/Jakarta')
    .time({ from: 'now-7d', to: 'now' })
    .refresh('1m')
    .readonly()
    .link(
      new DashboardLinkBuilder('Smart Kampung')
        .type(DashboardLinkType.Dashboards)
        .tags(['smart-kampung'])
        .asDropdown(true)
        .includeVars(true)
        .keepTime(true),
    )
}
