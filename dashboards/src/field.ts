import { GraphDrawStyle } from '@grafana/grafana-foundation-sdk/common'
import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard'
import { PanelBuilder as TablePanel } from '@grafana/grafana-foundation-sdk/table'
import { PanelBuilder as TimeseriesPanel } from '@grafana/grafana-foundation-sdk/timeseries'
import {
  alertAnnotations,
  baseDashboard,
  influx,
  rangePolicyVariable,
  tagVariable,
  villageVariable,
} from './common.ts'
import { agg, BY_RANGE, col, SelectQuery, tagMatchesVariable, timeFilter } from './influxql.ts'
import { perInterval } from './village.ts'

const inVillage = tagMatchesVariable('village', 'village')
const onField = tagMatchesVariable('field', 'field')
const onDevice = tagMatchesVariable('device', 'device')

const advice = (field: string) =>
  SelectQuery.from('events', 'irrigation_advice', agg('last', field, field))
    .where(inVillage, onField, timeFilter)
    .groupByTime('1d')
    .fill('none')

/**
 * One field. Readings carry village/device/sensor tags, not the field (the field → node mapping
 * lives in the registry), so the sensor panels follow `$device` (the field's soil node) and the
 * advice and alerts follow `$field`.
 */
export function fieldDetail(): Dashboard {
  return baseDashboard(
    'kampung-field',
    'Smart Kampung: field',
    'One field: its soil node’s readings, the daily irrigation advice and the field’s alerts.',
  )
    .withVariable(rangePolicyVariable())
    .withVariable(villageVariable(false))
    .withVariable(
      tagVariable('field', {
        label: 'Field',
        rp: 'events',
        measurement: 'irrigation_advice',
        key: 'field',
        where: [inVillage],
      }),
    )
    .withVariable(
      tagVariable('device', {
        label: 'Soil node',
        rp: 'raw',
        measurement: 'soil_moisture',
        key: 'device',
        where: [inVillage],
      }),
    )
    .annotation(alertAnnotations(onField))
    .withPanel(
      new TimeseriesPanel()
        .title('Soil moisture')
        .unit('percent')
        .height(8)
        .span(12)
        .withTarget(
          influx('A', perInterval(BY_RANGE, 'soil_moisture', 'mean', 'vwc_pct', ['sensor'], onDevice), {
            alias: '$tag_sensor',
          }),
        ),
    )
    .withPanel(
      new TimeseriesPanel()
        .title('Soil temperature')
        .unit('celsius')
        .height(8)
        .span(12)
        .withTarget(
          influx('A', perInterval(BY_RANGE, 'soil_temperature', 'mean', 'soil_c', ['sensor'], onDevice), {
            alias: '$tag_sensor',
          }),
        ),
    )
    .withPanel(
      new TimeseriesPanel()
        .title('Daily water balance (mm)')
        .unit('lengthmm')
        .drawStyle(GraphDrawStyle.Bars)
        .height(8)
        .span(12)
        .withTarget(influx('A', advice('etc_mm')))
        .withTarget(influx('B', advice('rain_eff_mm')))
        .withTarget(influx('C', advice('need_mm'))),
    )
    .withPanel(
      new TimeseriesPanel()
        .title('Irrigation advice (litres per day)')
        .unit('litre')
        .drawStyle(GraphDrawStyle.Bars)
        .height(8)
        .span(12)
        .withTarget(influx('A', advice('litres'))),
    )
    .withPanel(
      new TablePanel()
        .title('Alert events of this field')
        .height(8)
        .span(24)
        .withTarget(
          influx(
            'A',
            SelectQuery.from(
              'events',
              'alert_events',
              col('state'),
              col('rule'),
              col('severity'),
              col('message'),
              col('value'),
              col('alert_id'),
            )
              .where(inVillage, onField, timeFilter)
              .orderByTimeDesc()
              .limit(200),
            { format: 'table' },
          ),
        ),
    )
    .build()
}
