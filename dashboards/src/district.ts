import { FrameGeometrySourceMode } from '@grafana/grafana-foundation-sdk/common'
import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard'
import { PanelBuilder as GeomapPanel, TooltipMode } from '@grafana/grafana-foundation-sdk/geomap'
import { PanelBuilder as StatPanel } from '@grafana/grafana-foundation-sdk/stat'
import { PanelBuilder as TablePanel } from '@grafana/grafana-foundation-sdk/table'
import { PanelBuilder as TimeseriesPanel } from '@grafana/grafana-foundation-sdk/timeseries'
import { activeAlerts } from './alerts.ts'
import {
  alertAnnotations,
  baseDashboard,
  influx,
  rangePolicyVariable,
  rangeSumFieldVariable,
  villageVariable,
} from './common.ts'
import {
  agg,
  BY_RANGE,
  SelectQuery,
  SUM_FIELD,
  tagMatchesVariable,
  timeFilter,
  windowBeforeTo,
} from './influxql.ts'

const inVillages = tagMatchesVariable('village', 'village')

/**
 * One row per village: the mean position of its nodes (the village's centre on the map) over the
 * last 2 days of the range: nodes stay put, and 90 days of hourly positions cost 50 times more.
 * Two days, not one: at long ranges rp_1d's newest point is today's (from local midnight, up to
 * 24 h back), and in the first hour of a day only yesterday's.
 */
const position = (quantity: 'latitude' | 'longitude') =>
  SelectQuery.from(BY_RANGE, quantity, agg('mean', 'value', quantity))
    .where(inVillages, windowBeforeTo('2d'))
    .groupBy('village')

/**
 * Points per series where a line sums many nodes (240 soil nodes in 10 village means): InfluxDB
 * 1.x's cost grows with the nodes' series × GROUP BY time() windows (90 d: 12 h windows; 7 d: 1 h).
 */
const MANY_SERIES_POINTS = 200

/**
 * Devices whose last battery report lies in the window: every node reports its battery. Over the
 * range, `$rp`: a node with a report in the range has an hourly (daily) mean there. The last hour
 * reads raw: rp_1h gets an hour only after it has ended.
 */
const reportingDevices = (window: 'range' | '1h') =>
  SelectQuery.fromSubquery(
    SelectQuery.from(
      window === 'range' ? BY_RANGE : 'raw',
      'battery_voltage',
      agg('last', 'value', 'battery_v'),
    )
      .where(inVillages, window === 'range' ? timeFilter : windowBeforeTo(window))
      .groupBy('village', 'device'),
    agg('count', 'battery_v', 'nodes'),
  )

export function districtOverview(): Dashboard {
  return baseDashboard(
    'kampung-district',
    'Smart Kampung: district overview',
    'Villages on a map, nodes online, active alerts and rainfall across the district.',
  )
    .withVariable(rangePolicyVariable())
    .withVariable(rangeSumFieldVariable())
    .withVariable(villageVariable(true))
    .annotation(alertAnnotations())
    .withPanel(
      new GeomapPanel()
        .title('Villages')
        .description('Mean position of each village’s nodes (GPS readings of the last 2 days of the range).')
        .gridPos({ x: 0, y: 0, w: 12, h: 12 })
        .withTarget(influx('A', position('latitude'), { format: 'table' }))
        .withTarget(influx('B', position('longitude'), { format: 'table' }))
        .withTransformation({ id: 'joinByField', options: { byField: 'village', mode: 'outer' } })
        .view({ build: () => ({ id: 'coords', lat: -8.3, lon: 114.3, zoom: 10 }) })
        .basemap({ build: () => ({ type: 'default', name: 'Basemap' }) })
        .tooltip({ build: () => ({ mode: TooltipMode.Details }) })
        .layers([
          {
            build: () => ({
              type: 'markers',
              name: 'Villages',
              location: {
                mode: FrameGeometrySourceMode.Coords,
                latitude: 'latitude',
                longitude: 'longitude',
              },
              tooltip: true,
            }),
          },
        ]),
    )
    .withPanel(
      new StatPanel()
        .title('Nodes online')
        .description(
          'Nodes with a report in the last hour of the time range (raw readings: the hourly means ' +
            'of rp_1h have no hour in progress).',
        )
        .gridPos({ x: 12, y: 0, w: 6, h: 6 })
        .withTarget(influx('A', reportingDevices('1h'))),
    )
    .withPanel(
      new StatPanel()
        .title('Nodes known')
        .description('Nodes with at least one report in the time range.')
        .gridPos({ x: 18, y: 0, w: 6, h: 6 })
        .withTarget(influx('A', reportingDevices('range'))),
    )
    .withPanel(
      new StatPanel()
        .title('Active alerts')
        .description('Alerts whose latest event in the last 30 days is firing, escalated or acknowledged.')
        .gridPos({ x: 12, y: 6, w: 12, h: 6 })
        .timeFrom('30d')
        .withTarget(
          influx('A', SelectQuery.fromSubquery(activeAlerts(), agg('count', 'alert_id', 'active'))),
        ),
    )
    .withPanel(
      new TablePanel()
        .title('Active alerts by village')
        .gridPos({ x: 0, y: 12, w: 24, h: 8 })
        .timeFrom('30d')
        .withTarget(influx('A', activeAlerts().groupBy('village'), { format: 'table' })),
    )
    .withPanel(
      new TimeseriesPanel()
        .title('Rainfall per village')
        .description('Sums of the readings (at long ranges of the hourly or daily sums in rp_1h, rp_1d).')
        .unit('lengthmm')
        .maxDataPoints(MANY_SERIES_POINTS)
        .gridPos({ x: 0, y: 20, w: 12, h: 9 })
        .withTarget(
          influx(
            'A',
            SelectQuery.from(BY_RANGE, 'rainfall', agg('sum', SUM_FIELD, 'rain_mm'))
              .where(inVillages, timeFilter)
              .groupByTime()
              .groupBy('village')
              .fill(0),
            { alias: '$tag_village' },
          ),
        ),
    )
    .withPanel(
      new TimeseriesPanel()
        .title('Soil moisture, village means')
        .unit('percent')
        .maxDataPoints(MANY_SERIES_POINTS)
        .gridPos({ x: 12, y: 20, w: 12, h: 9 })
        .withTarget(
          influx(
            'A',
            SelectQuery.from(BY_RANGE, 'soil_moisture', agg('mean', 'value', 'vwc_pct'))
              .where(inVillages, timeFilter)
              .groupByTime()
              .groupBy('village')
              .fill('none'),
            { alias: '$tag_village' },
          ),
        ),
    )
    .build()
}
