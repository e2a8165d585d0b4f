import {
  LegendDisplayMode,
  LegendPlacement,
  ReduceDataOptionsBuilder,
} from '@grafana/grafana-foundation-sdk/common'
import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard'
import { PieChartLegendValues, PanelBuilder as PiechartPanel } from '@grafana/grafana-foundation-sdk/piechart'
import { PanelBuilder as StatPanel } from '@grafana/grafana-foundation-sdk/stat'
import { PanelBuilder as TablePanel } from '@grafana/grafana-foundation-sdk/table'
import { PanelBuilder as TimeseriesPanel } from '@grafana/grafana-foundation-sdk/timeseries'
import { baseDashboard, influx, rangePolicyVariable, tagVariable } from './common.ts'
import { agg, BY_RANGE, col, SelectQuery, tagMatchesVariable, timeFilter } from './influxql.ts'

const inVillages = tagMatchesVariable('village', 'village')
const onTrees = tagMatchesVariable('tree', 'tree')

/** The latest assessment of each tree (the verifier writes one per evaluation). */
const latestPerTree = () =>
  SelectQuery.from(
    'events',
    'oksigen_assessment',
    agg('last', 'gro_um', 'gro_um'),
    col('twd_um'),
    col('progress_pct'),
    col('o2_kg'),
    col('o2_kg_rough'),
    col('state'),
    col('species'),
  )
    .where(inVillages, onTrees, timeFilter)
    .groupBy('village', 'tree')

/**
 * Points per line where a panel draws a line per tree or dendrometer (40 with All): the verifier
 * assesses every 6 h, so 90 d at 800 px (3 h windows) gave 360 points a line, more than a
 * half-width panel can show; 200 gives 12 h windows at 90 d, and changes nothing at 7 d.
 */
const PER_TREE_POINTS = 200

const curve = (field: string) =>
  SelectQuery.from('events', 'oksigen_assessment', agg('last', field, field))
    .where(inVillages, onTrees, timeFilter)
    .groupByTime()
    .groupBy('tree')
    .fill('none')

/** Sedekah Oksigen: the trees behind certificates, from the verifier's assessments. */
export function oksigenView(): Dashboard {
  return baseDashboard(
    'kampung-oksigen',
    'Smart Kampung: Sedekah Oksigen',
    'Planted trees: state on the way to a certificate, growth (GRO) and water deficit (TWD), estimated O2.',
  )
    .withVariable(rangePolicyVariable())
    .withVariable(
      tagVariable('village', {
        label: 'Village',
        rp: 'events',
        measurement: 'oksigen_assessment',
        key: 'village',
        multi: true,
      }),
    )
    .withVariable(
      tagVariable('tree', {
        label: 'Tree',
        rp: 'events',
        measurement: 'oksigen_assessment',
        key: 'tree',
        where: [inVillages],
        multi: true,
      }),
    )
    .withVariable(
      tagVariable('device', {
        label: 'Dendrometer',
        rp: 'events',
        measurement: 'oksigen_assessment',
        key: 'device',
        where: [inVillages, onTrees],
        multi: true,
      }),
    )
    .withPanel(
      new PiechartPanel()
        .title('Trees by state')
        .description('Latest state of each tree, counted by state (Grafana groupBy transformation).')
        .height(9)
        .span(8)
        // one slice per row of the grouped table (state, count), not one reduced value per field
        .reduceOptions(new ReduceDataOptionsBuilder().values(true).calcs([]))
        .legend({
          build: () => ({
            values: [PieChartLegendValues.Value],
            displayMode: LegendDisplayMode.Table,
            placement: LegendPlacement.Right,
            showLegend: true,
            calcs: [],
          }),
        })
        .withTarget(influx('A', latestPerTree(), { format: 'table' }))
        .withTransformation({
          id: 'groupBy',
          options: {
            fields: {
              state: { operation: 'groupby', aggregations: [] },
              gro_um: { operation: 'aggregate', aggregations: ['count'] },
            },
          },
        }),
    )
    .withPanel(
      new StatPanel()
        .title('Estimated O2 released (trees with D ≥ 5 cm)')
        .description(
          'Sum over trees of the latest o2_kg: Chave et al. 2014 eq. 4, carbon 0.47, O2 = CO2 · 32/44. ' +
            'Saplings below 5 cm have no sound estimate and are left out.',
        )
        .unit('masskg')
        .height(9)
        .span(8)
        .withTarget(
          influx(
            'A',
            SelectQuery.fromSubquery(
              SelectQuery.from('events', 'oksigen_assessment', agg('last', 'o2_kg', 'o2_kg'))
                .where(inVillages, onTrees, timeFilter)
                .groupBy('tree'),
              agg('sum', 'o2_kg', 'o2_kg'),
            ),
          ),
        ),
    )
    .withPanel(
      new TablePanel()
        .title('Trees, latest assessment')
        .height(9)
        .span(8)
        .withTarget(influx('A', latestPerTree(), { format: 'table' })),
    )
    .withPanel(
      new TimeseriesPanel()
        .title('GRO: irreversible stem growth')
        .maxDataPoints(PER_TREE_POINTS)
        .unit('µm')
        .height(9)
        .span(12)
        .withTarget(influx('A', curve('gro_um'), { alias: '$tag_tree' })),
    )
    .withPanel(
      new TimeseriesPanel()
        .title('TWD: tree water deficit')
        .maxDataPoints(PER_TREE_POINTS)
        .unit('µm')
        .height(9)
        .span(12)
        .withTarget(influx('A', curve('twd_um'), { alias: '$tag_tree' })),
    )
    .withPanel(
      new TimeseriesPanel()
        .title('Stem diameter (dendrometer readings)')
        .maxDataPoints(PER_TREE_POINTS)
        .description(
          'The readings themselves up to 2 d, their hourly means (rp_1h) up to 30 d, daily means (rp_1d) beyond.',
        )
        .unit('µm')
        .height(9)
        .span(12)
        .withTarget(
          influx(
            'A',
            SelectQuery.from(BY_RANGE, 'stem_diameter', agg('mean', 'value', 'diameter_um'))
              .where(inVillages, tagMatchesVariable('device', 'device'), timeFilter)
              .groupByTime()
              .groupBy('device')
              .fill('none'),
            { alias: '$tag_device' },
          ),
        ),
    )
    .withPanel(
      new TimeseriesPanel()
        .title('Estimated O2 per tree')
        .maxDataPoints(PER_TREE_POINTS)
        .unit('masskg')
        .height(9)
        .span(12)
        .withTarget(influx('A', curve('o2_kg'), { alias: '$tag_tree' }))
        .withTarget(influx('B', curve('o2_kg_rough'), { alias: '$tag_tree (rough, D < 5 cm)' })),
    )
    .build()
}
