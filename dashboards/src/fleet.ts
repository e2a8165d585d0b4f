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
import { agg, BY_RANGE, col, SelectQuery, tagMatchesVariable, timeFilter } from './influxql.ts'

const inVillages = tagMatchesVariable('village', 'village')
const onDevices = tagMatchesVariable('device', 'device')

/**
 * Points per series for panels of a line per node (300 with All): InfluxDB 1.x's cost grows with
 * series × GROUP BY time() windows, and 300 lines of 800 points are no easier to read than of 100
 * (90 d: 1 d windows; 7 d: 2 h).
 */
const MANY_SERIES_POINTS = 100

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
          'Time and battery of each node’s latest report in the range; silent nodes sort first. ' +
            'Raw readings at every range: the time of the latest report must be exact, and rp_1h has ' +
            'no hour in progress.',
        )
        .height(9)
        .span(12)
        .withTarget(
          influx(
            'A',
            // The newest point per node, read from the end (ORDER BY time DESC LIMIT 1 per series)
            // rather than last() over the whole range, which reads every point.
            SelectQuery.from('raw', 'battery_voltage', col('value', 'battery_v'))
              .where(inVillages, onDevices, timeFilter)
              .groupBy('village', 'device')
              .orderByTimeDesc()
              .limit(1),
            { format: 'table' },
          ),
        ),
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
