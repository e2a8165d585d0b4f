/*
 * What Grafana does to an InfluxQL (raw mode) query before it reaches InfluxDB, re-done here so a
 * test can run the committed dashboard JSON against a real influxd. Sources: Grafana's InfluxDB
 * datasource (interpolateQueryExpr, influxRegularEscape, influxSpecialRegexEscape, getTimeFilter)
 * and @grafana/data rangeutil (calculateInterval, roundInterval). No Grafana can run here, so this
 * is a reading of its behaviour, not Grafana itself.
 */

export interface VariableState {
  multi: boolean
  includeAll: boolean
  allValue?: string
  /** The selection: one value, several, or All. */
  value: string | string[] | { all: true }
}

export interface ExpandContext {
  fromMs: number
  toMs: number
  /** `$__interval` in ms, as computed by intervalFor(). */
  intervalMs: number
  variables: Record<string, VariableState>
}

/** Escapes regex metacharacters, as Grafana's escapeRegex (single-value variables). */
function regularEscape(value: string): string {
  // Grafana leaves numbers alone.
  if (!Number.isNaN(Number.parseFloat(value))) return value
  return value.replace(/[\\^$*+?.()|[\]{}/]/g, '\\$&')
}

/** Grafana's influxSpecialRegexEscape (multi-value / include-All variables). */
function specialRegexEscape(value: string): string {
  return value.replace(/\\/g, '\\\\\\\\').replace(/[$^*{}[\]'+?.()|]/g, '\\\\$&')
}

/** One variable's text in a query, as Grafana's InfluxDB datasource formats it. */
export function formatVariable(v: VariableState): string {
  if (typeof v.value === 'object' && !Array.isArray(v.value)) {
    // A custom "All" value goes in as written; without one Grafana lists every option.
    if (v.allValue === undefined) throw new Error('All without allValue is not modelled')
    return v.allValue
  }
  if (!v.multi && !v.includeAll) {
    const value = Array.isArray(v.value) ? v.value[0]! : v.value
    return regularEscape(value)
  }
  if (typeof v.value === 'string') return specialRegexEscape(v.value)
  const escaped = v.value.map(specialRegexEscape)
  return escaped.length === 1 ? escaped[0]! : escaped.join('|')
}

/** Grafana's interval text: `30s`, `5m`, `1h`, `1d`. */
export function intervalText(ms: number): string {
  for (const [unit, size] of [
    ['y', 31_536_000_000],
    ['w', 604_800_000],
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1_000],
  ] as const) {
    if (ms % size === 0 && ms >= size) return `${ms / size}${unit}`
  }
  return `${ms}ms`
}

export function parseInterval(text: string): number {
  const m = /^(\d+)(ms|s|m|h|d|w|y)$/.exec(text)
  if (!m) throw new Error(`not an interval: ${text}`)
  const unit = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000, y: 31_536_000_000 }[
    m[2] as 'ms'
  ]
  return Number(m[1]) * unit
}

/** rangeutil.roundInterval: the raw interval rounded to a readable one. */
const ROUNDING: Array<[below: number, to: number]> = [
  [15, 10],
  [35, 20],
  [75, 50],
  [150, 100],
  [350, 200],
  [750, 500],
  [1_500, 1_000],
  [3_500, 2_000],
  [7_500, 5_000],
  [12_500, 10_000],
  [17_500, 15_000],
  [25_000, 20_000],
  [45_000, 30_000],
  [90_000, 60_000],
  [210_000, 120_000],
  [450_000, 300_000],
  [750_000, 600_000],
  [1_050_000, 900_000],
  [1_500_000, 1_200_000],
  [2_700_000, 1_800_000],
  [5_400_000, 3_600_000],
  [9_000_000, 7_200_000],
  [16_200_000, 10_800_000],
  [32_400_000, 21_600_000],
  [86_400_000, 43_200_000],
  [604_800_000, 86_400_000],
  [1_814_400_000, 604_800_000],
  [3_628_800_000, 2_592_000_000],
]

export function roundInterval(ms: number): number {
  for (const [below, to] of ROUNDING) if (ms < below) return to
  return 31_536_000_000
}

/**
 * `$__interval` for a panel: range / maxDataPoints (Grafana uses the panel's pixel width),
 * rounded, never below the panel's `interval` or else the datasource's `timeInterval`.
 */
export function intervalFor(rangeMs: number, maxDataPoints: number, minInterval: string | undefined): number {
  const raw = roundInterval(rangeMs / maxDataPoints)
  const min = minInterval ? parseInterval(minInterval.replace(/^>/, '')) : 0
  return Math.max(raw, min)
}

/** The query text Grafana sends to InfluxDB. */
export function expand(query: string, ctx: ExpandContext): string {
  const builtins: Record<string, string> = {
    timeFilter: `time >= ${ctx.fromMs}ms and time <= ${ctx.toMs}ms`,
    __interval: intervalText(ctx.intervalMs),
    __interval_ms: String(ctx.intervalMs),
    __from: String(ctx.fromMs),
    __to: String(ctx.toMs),
  }
  // $name, ${name} and [[name]], the three forms Grafana's template service replaces.
  const out = query.replace(/\$(\w+)|\$\{(\w+)\}|\[\[(\w+)\]\]/g, (whole, a, b, c) => {
    const name = (a ?? b ?? c) as string
    if (name in builtins) return builtins[name]!
    const v = ctx.variables[name]
    if (!v) return whole // Grafana leaves unknown variables in place; InfluxDB then refuses the query
    return formatVariable(v)
  })
  return out
}

/**
 * A template variable's options from its query's answer, as Grafana's InfluxDB response parser
 * takes them: per row the second column (SHOW TAG VALUES: key, value; SELECT: time, field),
 * else the first; each value once.
 */
export function variableValues(series: Array<{ values: unknown[][] }>): string[] {
  const out = new Set<string>()
  for (const s of series) for (const row of s.values) out.add(String(row[1] !== undefined ? row[1] : row[0]))
  return [...out]
}

/** Every panel of a dashboard JSON, rows' nested panels included. */
export function allPanels(dashboard: { panels?: Panel[] }): Panel[] {
  const out: Panel[] = []
  for (const p of dashboard.panels ?? []) {
    out.push(p)
    if (p.panels) out.push(...p.panels)
  }
  return out
}

export interface Panel {
  type: string
  title: string
  description?: string
  interval?: string
  timeFrom?: string
  maxDataPoints?: number
  datasource?: { type: string; uid: string }
  targets?: Array<Record<string, unknown> & { refId: string; datasource?: { type: string; uid: string } }>
  transformations?: Array<{ id: string; options: Record<string, unknown> }>
  panels?: Panel[]
}

/**
 * Grafana's environment interpolation of provisioning files: `$VAR` and `${VAR}` in every string
 * value (after YAML parsing, so comments are never expanded). A missing variable is an error here
 * (Grafana would put an empty string, and the datasource would fail at its first query).
 */
export function interpolateEnv<T>(value: T, env: Record<string, string>): T {
  if (typeof value === 'string')
    return value.replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a, b) => {
      const name = (a ?? b) as string
      if (!(name in env)) throw new Error(`provisioning uses $${name}, not set`)
      return env[name]!
    }) as T
  if (Array.isArray(value)) return value.map((v) => interpolateEnv(v, env)) as T
  if (value && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolateEnv(v, env)])) as T
  return value
}

/** A data frame as Grafana's panels see it: named columns of equal length. */
export interface Frame {
  fields: Array<{ name: string; values: unknown[] }>
}

/**
 * The frame Grafana's InfluxDB datasource makes of an InfluxQL answer with resultFormat `table`:
 * one frame per query, columns `Time`, the GROUP BY tags, then the selected columns; a row per
 * row of every series.
 */
export function tableFrame(
  series: Array<{ tags?: Record<string, string>; columns: string[]; values: unknown[][] }>,
): Frame {
  const tagKeys = [...new Set(series.flatMap((s) => Object.keys(s.tags ?? {})))]
  const valueColumns = [...new Set(series.flatMap((s) => s.columns.filter((c) => c !== 'time')))]
  const names = ['Time', ...tagKeys, ...valueColumns]
  const fields = names.map((name) => ({ name, values: [] as unknown[] }))
  for (const s of series)
    for (const row of s.values)
      names.forEach((name, i) => {
        const column = name === 'Time' ? 'time' : name
        fields[i]!.values.push(
          tagKeys.includes(name) && !s.columns.includes(name)
            ? (s.tags?.[name] ?? null)
            : (row[s.columns.indexOf(column)] ?? null),
        )
      })
  return { fields }
}

const rowsOf = (f: Frame) => f.fields[0]?.values.length ?? 0
const rowAt = (f: Frame, i: number) => Object.fromEntries(f.fields.map((x) => [x.name, x.values[i]]))
const fromRows = (names: string[], rows: Array<Record<string, unknown>>): Frame => ({
  fields: names.map((name) => ({ name, values: rows.map((r) => r[name] ?? null) })),
})

/**
 * The transformations the dashboards use, as read from Grafana's sources (not Grafana itself):
 * `merge` (rows of all frames in one table; rows equal in every common field would be combined,
 * which the modelled panels never have), `sortBy` (one field, ascending or `desc`), `groupBy`
 * (rows grouped by the `groupby` fields, others reduced with `last`, `first`, `max`, `min` or
 * `count` into `<field> (<calc>)`), `organize` (renameByName). Anything else throws.
 */
export function transform(
  frames: Frame[],
  transformations: Array<{ id: string; options: Record<string, unknown> }>,
): Frame[] {
  let out = frames
  for (const t of transformations) {
    if (t.id === 'merge') {
      const names = [...new Set(out.flatMap((f) => f.fields.map((x) => x.name)))]
      out = [
        fromRows(
          names,
          out.flatMap((f) => Array.from({ length: rowsOf(f) }, (_, i) => rowAt(f, i))),
        ),
      ]
    } else if (t.id === 'sortBy') {
      const { field, desc } = (t.options.sort as Array<{ field: string; desc?: boolean }>)[0]!
      out = out.map((f) => {
        const rows = Array.from({ length: rowsOf(f) }, (_, i) => rowAt(f, i))
        rows.sort((a, b) => {
          const [x, y] = [a[field], b[field]] as [number | string, number | string]
          return (x < y ? -1 : x > y ? 1 : 0) * (desc ? -1 : 1)
        })
        return fromRows(
          f.fields.map((x) => x.name),
          rows,
        )
      })
    } else if (t.id === 'groupBy') {
      const spec = t.options.fields as Record<
        string,
        { operation: 'groupby' | 'aggregate'; aggregations: string[] }
      >
      out = out.map((f) => {
        const keys = f.fields.map((x) => x.name).filter((n) => spec[n]?.operation === 'groupby')
        const aggregated = f.fields.map((x) => x.name).filter((n) => spec[n]?.operation === 'aggregate')
        const groups = new Map<string, Array<Record<string, unknown>>>()
        for (let i = 0; i < rowsOf(f); i++) {
          const row = rowAt(f, i)
          const key = JSON.stringify(keys.map((k) => row[k]))
          groups.set(key, [...(groups.get(key) ?? []), row])
        }
        const reduce = (calc: string, values: unknown[]) => {
          const numbers = values as number[]
          if (calc === 'last') return values[values.length - 1]
          if (calc === 'first') return values[0]
          if (calc === 'max') return Math.max(...numbers)
          if (calc === 'min') return Math.min(...numbers)
          if (calc === 'count') return values.length
          throw new Error(`groupBy calculation ${calc} is not modelled`)
        }
        const names = [...keys, ...aggregated.flatMap((n) => spec[n]!.aggregations.map((c) => `${n} (${c})`))]
        const rows = [...groups.values()].map((g) => {
          const r: Record<string, unknown> = Object.fromEntries(keys.map((k) => [k, g[0]![k]]))
          for (const n of aggregated)
            for (const c of spec[n]!.aggregations)
              r[`${n} (${c})`] = reduce(
                c,
                g.map((x) => x[n]),
              )
          return r
        })
        return fromRows(names, rows)
      })
    } else if (t.id === 'organize') {
      const rename = (t.options.renameByName ?? {}) as Record<string, string>
      out = out.map((f) => ({ fields: f.fields.map((x) => ({ ...x, name: rename[x.name] ?? x.name })) }))
    } else throw new Error(`transformation ${t.id} is not modelled`)
  }
  return out
}
