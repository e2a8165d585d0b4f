import { quoteIdent, quoteString } from '../../src/store/index.ts'

/*
 * A small typed InfluxQL builder for Grafana panel queries. The foundation SDK has no InfluxDB
 * query builder, and hand-written query strings are where quoting goes wrong, so every query in
 * the dashboards is built here:
 * - identifiers go through the store's quoteIdent, string literals through quoteString;
 * - every FROM names its retention policy (`"raw"."soil_moisture"`): the database comes from the
 *   Grafana datasource, and a query without a policy would read `autogen`, which holds nothing;
 * - every SELECT on stored data carries `$timeFilter` (or an explicit window ending at `$__to`);
 * - template variables are matched as regexes `/^($village)$/`: Grafana joins a multi-value
 *   selection with `|`, and the parentheses keep `^…$` around the whole alternation.
 */

/** Retention policies the system writes (src/store/influx, the alerts engine, the oksigen sink). */
export type RetentionPolicy = 'raw' | 'rp_1h' | 'rp_1d' | 'events'

/**
 * The readings' policy chosen by the dashboard's time range: the hidden `$rp` variable
 * (common.ts rangePolicyVariable) reads the store's `rp_config`: raw for short recent ranges,
 * rp_1h up to 30 d, rp_1d beyond. Only for queries that the downsampled policies (hourly or daily
 * mean/min/max/sum in the fields `value`, `min`, `max`, `sum`, same tags) answer as well as `raw`:
 * means, minima, maxima, sums (`$sumfield`), and which series reported in the range.
 */
export const BY_RANGE = '$rp'
/** The field whose sum is the readings' sum in `$rp` (raw `value`, rp_1h `sum`): `$sumfield`. */
export const SUM_FIELD = '$sumfield'
export type PolicyRef = RetentionPolicy | typeof BY_RANGE

/** A Grafana template variable's name, as used in `$name`. */
export type VariableName = 'village' | 'field' | 'device' | 'tree' | 'rp' | 'sumfield'

export type Aggregate = 'mean' | 'min' | 'max' | 'sum' | 'last' | 'first' | 'count' | 'spread'

/** One column of a SELECT. */
export interface Column {
  readonly text: string
}

/** `fn("field") AS "alias"` */
export function agg(fn: Aggregate, field: string, alias?: string): Column {
  return { text: `${fn}(${quoteIdent(field)})${alias ? ` AS ${quoteIdent(alias)}` : ''}` }
}

/** A plain field or tag key (a tag in SELECT needs a selector alongside, or a subquery around). */
export function col(name: string, alias?: string): Column {
  return { text: `${quoteIdent(name)}${alias ? ` AS ${quoteIdent(alias)}` : ''}` }
}

/** A condition of a WHERE clause. */
export interface Condition {
  readonly text: string
}

/** `"key" =~ /^($variable)$/`: a tag matched against a (multi-value) template variable. */
export function tagMatchesVariable(key: string, variable: VariableName): Condition {
  return { text: `${quoteIdent(key)} =~ /^($${variable})$/` }
}

/** `"key" = 'value'` (tag or string field). */
export function equals(key: string, value: string): Condition {
  return { text: `${quoteIdent(key)} = ${quoteString(value)}` }
}

export function anyOf(...conditions: Condition[]): Condition {
  return { text: `(${conditions.map((c) => c.text).join(' OR ')})` }
}

/** Grafana's time range of the dashboard (or of the panel's override). */
export const timeFilter: Condition = { text: '$timeFilter' }

/** Grafana's end of range in ms since the epoch (`${__to}`, braced so `ms` can follow). */
const TO_MS = '$' + '{__to}'

const isTimeCondition = (c: Condition) => c.text.includes('$timeFilter') || c.text.includes(TO_MS)

/** The last `window` (InfluxQL duration) before the end of the dashboard range. */
export function windowBeforeTo(window: string): Condition {
  if (!/^\d+[smhdw]$/.test(window)) throw new RangeError(`not a duration: ${window}`)
  return { text: `time > ${TO_MS}ms - ${window} AND time <= ${TO_MS}ms` }
}

export type Fill = 'none' | 'null' | 'previous' | 'linear' | number

export type Source =
  | { kind: 'measurement'; rp: PolicyRef; measurement: string }
  | { kind: 'subquery'; query: SelectQuery }

interface SelectParts {
  columns: Column[]
  from: Source
  where: Condition[]
  groupByTime?: string
  groupByTags: string[]
  fill?: Fill
  orderDesc: boolean
  limit?: number
}

/** An immutable SELECT; every method returns a new query. */
export class SelectQuery {
  private readonly parts: SelectParts

  private constructor(parts: SelectParts) {
    this.parts = parts
  }

  static from(rp: PolicyRef, measurement: string, ...columns: Column[]): SelectQuery {
    return new SelectQuery({
      columns,
      from: { kind: 'measurement', rp, measurement },
      where: [],
      groupByTags: [],
      orderDesc: false,
    })
  }

  /**
   * `SELECT … FROM (inner) WHERE <inner's time conditions>`: InfluxDB 1.x maps the shards to read
   * from the outer query's time range, so without them the inner query opens every shard of the
   * policy (90 days of raw for a panel about the last hour: 50× slower, measured). The inner
   * query's rows keep their points' times (selectors such as last()), which lie in the range.
   */
  static fromSubquery(inner: SelectQuery, ...columns: Column[]): SelectQuery {
    return new SelectQuery({
      columns,
      from: { kind: 'subquery', query: inner },
      where: inner.parts.where.filter(isTimeCondition),
      groupByTags: [],
      orderDesc: false,
    })
  }

  private with(change: Partial<SelectParts>): SelectQuery {
    return new SelectQuery({ ...this.parts, ...change })
  }

  where(...conditions: Condition[]): SelectQuery {
    return this.with({ where: [...this.parts.where, ...conditions] })
  }

  /** `GROUP BY time($__interval)` by default: Grafana picks the interval from range and width. */
  groupByTime(interval = '$__interval'): SelectQuery {
    return this.with({ groupByTime: interval })
  }

  groupBy(...tags: string[]): SelectQuery {
    return this.with({ groupByTags: [...this.parts.groupByTags, ...tags] })
  }

  fill(fill: Fill): SelectQuery {
    return this.with({ fill })
  }

  orderByTimeDesc(): SelectQuery {
    return this.with({ orderDesc: true })
  }

  limit(rows: number): SelectQuery {
    if (!Number.isSafeInteger(rows) || rows < 1) throw new RangeError(`bad limit ${rows}`)
    return this.with({ limit: rows })
  }

  /** Retention policies this query reads, the subqueries' included. */
  retentionPolicies(): PolicyRef[] {
    const f = this.parts.from
    return f.kind === 'measurement' ? [f.rp] : f.query.retentionPolicies()
  }

  toString(): string {
    const p = this.parts
    if (p.columns.length === 0) throw new RangeError('SELECT without columns')
    if (!p.where.some(isTimeCondition))
      throw new RangeError(
        p.from.kind === 'measurement'
          ? `query on ${p.from.measurement} without a time filter`
          : 'subquery without a time filter',
      )
    if (p.groupByTime && p.fill === undefined) throw new RangeError('GROUP BY time() without fill()')
    const from =
      p.from.kind === 'measurement'
        ? `${quoteIdent(p.from.rp)}.${quoteIdent(p.from.measurement)}`
        : `(${p.from.query.toString()})`
    let text = `SELECT ${p.columns.map((c) => c.text).join(', ')} FROM ${from}`
    if (p.where.length) text += ` WHERE ${p.where.map((c) => c.text).join(' AND ')}`
    const groups = [...(p.groupByTime ? [`time(${p.groupByTime})`] : []), ...p.groupByTags.map(quoteIdent)]
    if (groups.length) text += ` GROUP BY ${groups.join(', ')}`
    if (p.fill !== undefined) text += ` fill(${p.fill})`
    if (p.orderDesc) text += ' ORDER BY time DESC'
    if (p.limit !== undefined) text += ` LIMIT ${p.limit}`
    return text
  }
}

/**
 * `SHOW TAG VALUES FROM "rp"."measurement" WITH KEY = "key" [WHERE …]`, for template variables.
 * InfluxDB 1.x keeps tag values in the database-wide index, so this answers for all time.
 */
export function showTagValues(
  rp: RetentionPolicy,
  measurement: string,
  key: string,
  ...where: Condition[]
): string {
  let text = `SHOW TAG VALUES FROM ${quoteIdent(rp)}.${quoteIdent(measurement)} WITH KEY = ${quoteIdent(key)}`
  if (where.length) text += ` WHERE ${where.map((c) => c.text).join(' AND ')}`
  return text
}
