import { describe, expect, it } from 'vitest'
import {
  agg,
  anyOf,
  col,
  equals,
  SelectQuery,
  showTagValues,
  tagMatchesVariable,
  timeFilter,
  windowBeforeTo,
} from '../../dashboards/src/influxql.ts'
import { expand, formatVariable, intervalFor, intervalText, roundInterval } from './grafana.ts'

describe('InfluxQL builder', () => {
  it('names the retention policy, quotes identifiers and groups by time with a fill', () => {
    const q = SelectQuery.from('raw', 'soil_moisture', agg('mean', 'value', 'vwc_pct'))
      .where(tagMatchesVariable('village', 'village'), timeFilter)
      .groupByTime()
      .groupBy('device')
      .fill('none')
    expect(q.toString()).toBe(
      'SELECT mean("value") AS "vwc_pct" FROM "raw"."soil_moisture" WHERE "village" =~ /^($village)$/ AND $timeFilter GROUP BY time($__interval), "device" fill(none)',
    )
  })

  it('quotes hostile identifiers and string literals so they cannot end the query', () => {
    const q = SelectQuery.from('events', 'alert_events', col('we"ird\\'), col('message'))
      .where(equals('state', "x' OR 1=1 --"), timeFilter)
      .limit(5)
    expect(q.toString()).toBe(
      `SELECT "we\\"ird\\\\", "message" FROM "events"."alert_events" WHERE "state" = 'x\\' OR 1=1 --' AND $timeFilter LIMIT 5`,
    )
    expect(() => equals('state', 'a\nb')).toThrow(RangeError)
  })

  it('refuses queries Grafana would run over all time or without fill', () => {
    expect(() => SelectQuery.from('raw', 'rainfall', agg('sum', 'value')).toString()).toThrow(/time filter/)
    expect(() =>
      SelectQuery.from('raw', 'rainfall', agg('sum', 'value')).where(timeFilter).groupByTime().toString(),
    ).toThrow(/fill/)
    expect(() => windowBeforeTo('1 hour')).toThrow(RangeError)
    expect(() => SelectQuery.from('raw', 'rainfall').where(timeFilter).toString()).toThrow(/columns/)
  })

  it('nests subqueries, with the inner time range on the outer query too, and ORs conditions', () => {
    const inner = SelectQuery.from('raw', 'battery_voltage', agg('last', 'value', 'v'))
      .where(windowBeforeTo('1h'))
      .groupBy('device')
    const q = SelectQuery.fromSubquery(inner, agg('count', 'v')).where(
      anyOf(equals('a', 'x'), equals('b', 'y')),
    )
    expect(q.toString()).toBe(
      `SELECT count("v") FROM (SELECT last("value") AS "v" FROM "raw"."battery_voltage" WHERE time > \${__to}ms - 1h AND time <= \${__to}ms GROUP BY "device") WHERE time > \${__to}ms - 1h AND time <= \${__to}ms AND ("a" = 'x' OR "b" = 'y')`,
    )
    expect(q.retentionPolicies()).toEqual(['raw'])
    // The outer query repeats the inner one's time range: InfluxDB 1.x maps shards by the outer one.
    expect(() =>
      SelectQuery.fromSubquery(
        SelectQuery.fromSubquery(inner, agg('count', 'v')),
        agg('sum', 'count'),
      ).toString(),
    ).not.toThrow()
  })

  it('builds SHOW TAG VALUES for template variables', () => {
    expect(showTagValues('raw', 'battery_voltage', 'device', tagMatchesVariable('village', 'village'))).toBe(
      'SHOW TAG VALUES FROM "raw"."battery_voltage" WITH KEY = "device" WHERE "village" =~ /^($village)$/',
    )
  })
})

describe('Grafana macro expansion (as the test models it)', () => {
  const ctx = {
    fromMs: 1_000_000,
    toMs: 4_600_000,
    intervalMs: 60_000,
    variables: {
      village: { multi: true, includeAll: true, allValue: '.*', value: ['kemiren', 'glagah'] },
      device: { multi: false, includeAll: false, value: 'node.1' },
    },
  }

  it('expands $timeFilter, intervals, range and variables in all three syntaxes', () => {
    expect(
      expand(
        `WHERE "village" =~ /^($village)$/ AND "device" =~ /^([[device]])$/ AND $timeFilter GROUP BY time($__interval) -- $__interval_ms \${__from} \${__to}`,
        ctx,
      ),
    ).toBe(
      'WHERE "village" =~ /^(kemiren|glagah)$/ AND "device" =~ /^(node\\.1)$/ AND time >= 1000000ms and time <= 4600000ms GROUP BY time(1m) -- 60000 1000000 4600000',
    )
  })

  it('formats multi-value, All and single values as the InfluxDB datasource does', () => {
    expect(formatVariable({ multi: true, includeAll: true, allValue: '.*', value: { all: true } })).toBe('.*')
    expect(formatVariable({ multi: true, includeAll: false, value: ['a.b'] })).toBe('a\\\\.b')
    expect(formatVariable({ multi: false, includeAll: false, value: 'a/b' })).toBe('a\\/b')
    expect(formatVariable({ multi: false, includeAll: false, value: '42' })).toBe('42')
  })

  it('computes $__interval from range and width, never below the minimum', () => {
    expect(roundInterval(1_080_000)).toBe(1_200_000)
    expect(intervalText(1_200_000)).toBe('20m')
    expect(intervalFor(10 * 86_400_000, 800, '1m')).toBe(1_200_000)
    expect(intervalFor(3_600_000, 800, '1m')).toBe(60_000)
    expect(intervalFor(10 * 86_400_000, 800, '1h')).toBe(3_600_000)
  })
})
