import { TableSortByFieldStateBuilder } from '@grafana/grafana-foundation-sdk/common'
import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard'
import { PanelBuilder as TablePanel } from '@grafana/grafana-foundation-sdk/table'
import { PanelBuilder as TimeseriesPanel } from '@grafana/grafana-foundation-sdk/timeseries'
import {
  alertAnnotations,
  baseDashboard,
  influx,
  promql,
  rangePolicyVariable,
  tagVariable,
  villageVariable,
} from './common.ts'
import {
  agg,
  BY_RANGE,
  type Condition,
  col,
  SelectQuery,
  tagMatchesVariable,
  timeFilter,
  windowBeforeTo,
} from './influxql.ts'

const inVillages = tagMatchesVariable('village', 'village')
const onDevices = tagMatchesVariable('device', 'device')

/**
 * Points per series for panels of a line per node (300 with All): InfluxDB 1.x's cost grows with
 * series × GROUP BY time() windows, and 300 lines of 800 points are no easier to read than of 100
 * (90 d: 1 d windows; 7 d: 2 h).
 */
const MANY_SERIES_POINTS = 100

/** How far back "Last seen" looks, whatever the dashboard's range: raw's retention. */
const LAST_SEEN_DAYS = '90d'

/**
 * The newest report of each node, without reading 90 days of raw readings (that took 1.1 s p50,
 * 3.4 s p95 at 300 nodes: one cursor per node and daily shard), in two targets:
 * - A: the newest raw point of the last 2 days of the range (3 daily shards): the exact time;
 * - B: the newest hourly point of the whole range (rp_1h, weekly shards): the hour of the report,
 *   for nodes silent longer (rp_1h has no hour in progress, so B alone would date a node that
 *   reported a minute ago an hour back).
 * The panel merges them and keeps each node's newer row (lastSeenTransformations). One query with
 * both as subqueries is slower than the 90 d scan: InfluxDB 1.x maps every subquery's shards from
 * the outer query's range, so the raw one opens all 90 daily shards again (3.1 s p50, measured).
 */
const newestReport = (rp: 'raw' | 'rp_1h', ...window: Condition[]) =>
  SelectQuery.from(rp, 'battery_voltage', col('value', 'battery_v'))
    .where(inVillages, onDevices, timeFilter, ...window)
    .groupBy('village', 'device')
    .orderByTimeDesc()
    .limit(1)

/**
 * Grafana's transformations for "Last seen": both targets' rows in one table, sorted by time,
 * grouped by node keeping the last (newest) time and battery, columns renamed.
 */
const lastSeenTransformations = [
  { id: 'merge', options: {} },
  { id: 'sortBy', options: { sort: [{ field: 'Time', desc: false }] } },
  {
    id: 'groupBy',
    options: {
      fields: {
        village: { operation: 'groupby', aggregations: [] },
        device: { operation: 'groupby', aggregations: [] },
        Time: { operation: 'aggregate', aggregations: ['last'] },
        battery_v: { operation: 'aggregate', aggregations: ['last'] },
      },
    },
  },
  {
    id: 'organize',
    options: { renameByName: { 'Time (last)': 'Last report', 'battery_v (last)': 'Battery (V)' } },
  },
]

const perDevice = (measurement: string, alias: string) =>
  SelectQuery.from(BY_RANGE, measurement, agg('mean', 'value', alias))
    .where(inVillages, onDevices, timeFilter)
    .groupByTime()
    .groupBy('device')
    .fill('none')

/**
 * Node health. Battery, signal and last seen are in InfluxDB; rejected messages are counted by the
 * ingest as Prometheus metrics (`/metrics`), never stored as readings, so their panels query the
 * provisioned Prometheus datasource in PromQL.
 */
export function fleetHealth(): Dashboard {
  return baseDashboard(
    'kampung-fleet',
    'Smart Kampung: fleet health',
    'Battery, radio signal, last report of every node; messages and readings rejected by the ingest.',
  )
    .withVariable(rangePolicyVariable())
    .withVariable(villageVariable(true))
    .withVariable(
      tagVariable('device', {
        label: 'Node',
        rp: 'raw',
        measurement: 'battery_voltage',
        key: 'device',
        where: [inVillages],
        multi: true,
      }),
    )
    .annotation(alertAnnotations())
    .withPanel(
      new TablePanel()
        .title('Last seen')
        .description(
          'Time and battery of each node’s latest report in the last 90 days, whatever the dashboard’s ' +
            'range, so a node silent for weeks is still listed; silent nodes sort first. Exact for ' +
            'reports of the last 2 days (raw readings); older ones give the hour of the report (rp_1h) ' +
            'and that hour’s mean battery.',
        )
        // A status of now: a short dashboard range must not hide the nodes that fell silent.
        .timeFrom(LAST_SEEN_DAYS)
        .height(9)
        .span(12)
        .withTarget(influx('A', newestReport('raw', windowBeforeTo('2d')), { format: 'table' }))
        .withTarget(influx('B', newestReport('rp_1h'), { format: 'table' }))
        .sortBy([new TableSortByFieldStateBuilder().displayName('Last report').desc(false)])
        .withTransformation(lastSeenTransformations[0]!)
        .withTransformation(lastSeenTransformations[1]!)
        .withTransformation(lastSeenTransformations[2]!)
        .withTransformation(lastSeenTransformations[3]!),
    )
    .withPanel(
      new TimeseriesPanel()
        .title('Battery voltage')
        .unit('volt')
        .maxDataPoints(MANY_SERIES_POINTS)
        .height(9)
        .span(12)
        .withTarget(influx('A', perDevice('battery_voltage', 'battery_v'), { alias: '$tag_device' })),
    )
    .withPanel(
      new TimeseriesPanel()
        .title('Radio signal (RSSI of LoRaWAN uplinks)')
        .description('Only LoRaWAN nodes (ChirpStack, The Things Stack) report a signal strength.')
        .unit('dBm')
        .maxDataPoints(MANY_SERIES_POINTS)
        .height(9)
        .span(12)
        .withTarget(influx('A', perDevice('signal_strength', 'rssi_dbm'), { alias: '$tag_device' })),
    )
    .withPanel(
      new TimeseriesPanel()
        .title('Rejected readings by reason')
        .description('Prometheus: kampung_readings_rejected_total from the service’s /metrics.')
        .height(9)
        .span(12)
        .withTarget(
          promql(
            'A',
            'sum by (reason) (increase(kampung_readings_rejected_total[$__rate_interval]))',
            '{{reason}}',
          ),
        ),
    )
    .withPanel(
      new TimeseriesPanel()
        .title('Uplink messages by outcome')
        .description('Prometheus: kampung_messages_total (stored, partial, rejected) by transport.')
        .height(9)
        .span(12)
        .withTarget(
          promql(
            'A',
            'sum by (transport, outcome) (rate(kampung_messages_total[$__rate_interval]))',
            '{{transport}} {{outcome}}',
          ),
        ),
    )
    .build()
}
