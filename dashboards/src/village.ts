import { GraphDrawStyle } from '@grafana/grafana-foundation-sdk/common'
import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard'
import { PanelBuilder as TablePanel } from '@grafana/grafana-foundation-sdk/table'
import { PanelBuilder as TimeseriesPanel } from '@grafana/grafana-foundation-sdk/timeseries'
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
  type Condition,
  col,
  type PolicyRef,
  SelectQuery,
  SUM_FIELD,
  tagMatchesVariable,
  timeFilter,
} from './influxql.ts'

const inVillage = tagMatchesVariable('village', 'village')

/** A village's quantity over time, one series per `by` tag. */
export function perInterval(
  rp: PolicyRef,
  measurement: string,
  fn: 'mean' | 'sum' | 'last',
  alias: string,
  by: string[],
  ...extra: Condition[]
): SelectQuery {
  // A sum over `$rp` sums the field `$sumfield`: raw `value`, rp_1h's hourly and rp_1d's daily `sum`.
  return SelectQuery.from(
    rp,
    measurement,
    agg(fn, fn === 'sum' && rp === BY_RANGE ? SUM_FIELD : 'value', alias),
  )
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
    .withVariable(rangePolicyVariable())
    .withVariable(rangeSumFieldVariable())
    .withVariable(villageVariable(false))
    .annotation(alertAnnotations())
    .withPanel(
      new TimeseriesPanel()
        .title('Soil moisture by field node')
        .unit('percent')
        .height(9)
        .span(12)
        .withTarget(
          influx('A', perInterval(BY_RANGE, 'soil_moisture', 'mean', 'vwc_pct', ['device']), {
            alias: '$tag_device',
          }),
        ),
    )
    .withPanel(
      new TimeseriesPanel()
        .title('Air temperature and humidity')
        .height(8)
        .span(12)
        .withTarget(influx('A', perInterval(BY_RANGE, 'air_temperature', 'mean', 'air_c', [])))
        .withTarget(influx('B', perInterval(BY_RANGE, 'relative_humidity', 'mean', 'rh_pct', []))),
    )
    .withPanel(
      new TimeseriesPanel()
        .title('Rainfall')
        .description('Sums of the readings (at long ranges of the hourly or daily sums in rp_1h, rp_1d).')
        .unit('lengthmm')
        .drawStyle(GraphDrawStyle.Bars)
        .height(8)
        .span(12)
        .withTarget(influx('A', perInterval(BY_RANGE, 'rainfall', 'sum', 'rain_mm', []))),
    )
    .withPanel(
      new TimeseriesPanel()
        .title('Wind and sun')
        .height(8)
        .span(12)
        .withTarget(influx('A', perInterval(BY_RANGE, 'wind_speed', 'mean', 'wind_ms', [])))
        .withTarget(influx('B', perInterval(BY_RANGE, 'solar_radiation', 'mean', 'solar_wm2', []))),
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
