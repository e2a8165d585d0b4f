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
 * The newest report of each node, without reading 90 days of raw readings (1.1 s p50, 3.4 s p95 at
 * 300 nodes: one cursor per node and daily shard): the newest raw point of the last 2 days (exact
 * time; 3 shards) and the newest hourly point of the range (the hour of the report; weekly shards),
 * merged per node, the newer kept. A node that reported within 2 days gets its raw point, one
 * silent for longer the hour of its last report.
 */
const lastSeen = () => {
  const newest = (rp: 'raw' | 'rp_1h', ...window: Condition[]) =>
    SelectQuery.from(rp, 'battery_voltage', col('value', 'battery_v'))
      .where(inVillages, onDevices, timeFilter, ...window)
      .groupBy('village', 'device')
      .orderByTimeDesc()
      .limit(1)
  return SelectQuery.fromSubqueries(
    [newest('raw', windowBeforeTo('2d')), newest('rp_1h')],
    col('battery_v', 'battery_v'),
  )
    .groupBy('village', 'device')
    .orderByTimeDesc()
    .limit(1)
}

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
        .withTarget(influx('A', lastSeen(), { format: 'table' })),
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
