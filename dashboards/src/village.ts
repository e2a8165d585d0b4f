import { GraphDrawStyle } from '@grafana/grafana-foundation-sdk/common'
import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard'
import { PanelBuilder as TablePanel } from '@grafana/grafana-foundation-sdk/table'
import { PanelBuilder as TimeseriesPanel } from '@grafana/grafana-foundation-sdk/timeseries'
import { alertAnnotations, baseDashboard, influx, villageVariable } from './common.ts'
import {
  agg,
  type Condition,
  col,
  type RetentionPolicy,
  SelectQuery,
  tagMatchesVariable,
  timeFilter,
} from './influxql.ts'

const inVillage = tagMatchesVariable('village', 'village')

/** A village's quantity over time, one series per `by` tag. */
export function perInterval(
  rp: RetentionPolicy,
  measurement: string,
  fn: 'mean' | 'sum' | 'last',
  alias: string,
  by: string[],
  ...extra: Condition[]
): SelectQuery {
  return SelectQuery.from(rp, measurement, agg(fn, 'value', alias))
    .where(inVillage, ...extra, timeFilter)
    .groupByTime()
    .groupBy(...by)
    .fill(fn === 'sum' ? 0 : 'none')
}

/** Daily irrigation advice of the village's fields (one point per field per day). */
const advice = (field: string, alias: string) =>
  SelectQuery.from('events', 'irrigation_advice', agg('last', field, alias))
    .where(inVillage, timeFilter)
    .groupByTime('1d')
    .groupBy('field')
    .fill('none')

export function villageView(): Dashboard {
  return baseDashboard(
    'kampung-village',
    'Smart Kampung: village',
    'One village: soil moisture of its fields, weather, ET0 and irrigation advice.',
  )
    .withVariable(villageVariable(false))
    .annotation(alertAnnotations())
    .withPanel(
      new TimeseriesPanel()
        .title('Soil moisture by field node')
        .unit('percent')
        .height(9)
        .span(12)
        .withTarget(
          influx('A', perInterval('raw', 'soil_moisture', 'mean', 'vwc_pct', ['device']), {
            alias: '$tag_device',
          }),
        ),
    )
    .withPanel(
      new TimeseriesPanel()
        .title('Soil moisture, hourly means (long ranges)')
        .description('From the downsampled policy rp_1h (kept 5 years; raw readings are kept 90 days).')
        .unit('percent')
        .interval('1h')
        .height(9)
        .span(12)
        .withTarget(
          influx('A', perInterval('rp_1h', 'soil_moisture', 'mean', 'vwc_pct', ['device']), {
            alias: '$tag_device',
          }),
        ),
    )
    .withPanel(
      new TimeseriesPanel()
        .title('Air temperature and humidity')
        .height(8)
        .span(12)
        .withTarget(influx('A', perInterval('raw', 'air_temperature', 'mean', 'air_c', [])))
        .withTarget(influx('B', perInterval('raw', 'relative_humidity', 'mean', 'rh_pct', []))),
    )
    .withPanel(
      new TimeseriesPanel()
        .title('Rainfall')
        .unit('lengthmm')
        .drawStyle(GraphDrawStyle.Bars)
        .height(8)
        .span(12)
        .withTarget(influx('A', perInterval('raw', 'rainfall', 'sum', 'rain_mm', []))),
    )
    .withPanel(
      new TimeseriesPanel()
        .title('Wind and sun')
        .height(8)
        .span(12)
        .withTarget(influx('A', perInterval('raw', 'wind_speed', 'mean', 'wind_ms', [])))
        .withTarget(influx('B', perInterval('raw', 'solar_radiation', 'mean', 'solar_wm2', []))),
    )
    .withPanel(
      new TimeseriesPanel()
        .title('ET0 and crop water use (FAO-56, daily)')
        .unit('lengthmm')
        .drawStyle(GraphDrawStyle.Bars)
        .height(8)
        .span(12)
        .withTarget(influx('A', advice('et0_mm', 'et0_mm'), { alias: 'ET0 $tag_field' }))
        .withTarget(influx('B', advice('etc_mm', 'etc_mm'), { alias: 'ETc $tag_field' })),
    )
    .withPanel(
      new TablePanel()
        .title('Irrigation advice, latest per field')
        .height(8)
        .span(24)
        .withTarget(
          influx(
            'A',
            SelectQuery.from(
              'events',
              'irrigation_advice',
              agg('last', 'need_mm', 'need_mm'),
              col('litres'),
              col('etc_mm'),
              col('rain_eff_mm'),
              col('et0_mm'),
              col('kc'),
            )
              .where(inVillage, timeFilter)
              .groupBy('field', 'crop'),
            { format: 'table' },
          ),
        ),
    )
    .build()
}
