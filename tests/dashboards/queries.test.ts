import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parse as parseYaml } from 'yaml'
import { GENERATED_DIR } from '../../dashboards/src/generate.ts'
import { TREE_STATES } from '../../src/oksigen/index.ts'
import { type InfluxdHandle, startInfluxd } from '../harness/influxd.ts'
import { DATABASE, type LoadedDistrict, loadDistrict } from './fixture.ts'
import {
  allPanels,
  type ExpandContext,
  expand,
  interpolateEnv,
  intervalFor,
  type Panel,
  tableFrame,
  transform,
  type VariableState,
  variableValues,
} from './grafana.ts'

/*
 * Every query of every generated dashboard, run against a real influxd holding a simulated
 * district: template variables first (each expanded with the ones before it), then every panel
 * target and every annotation, with Grafana's macros expanded as Grafana would. The dashboards
 * are read from the committed JSON, so a new panel is covered without touching this file.
 */

interface Series {
  name: string
  tags?: Record<string, string>
  columns: string[]
  values: unknown[][]
}

interface DashboardJson {
  uid: string
  title: string
  panels?: Panel[]
  templating?: { list: Array<Record<string, unknown>> }
  annotations?: { list: Array<Record<string, unknown>> }
}

const PROVISIONING = path.join(GENERATED_DIR, '..', 'provisioning')

interface ProvisionedDatasource {
  uid: string
  type: string
  url: string
  user?: string
  jsonData?: { timeInterval?: string; dbName?: string }
  secureJsonData?: { password?: string }
}

/** The provisioned datasources with the environment a deployment would give Grafana. */
function provisionedDatasources(influxUrl: string): ProvisionedDatasource[] {
  const doc = parseYaml(readFileSync(path.join(PROVISIONING, 'datasources', 'kampung.yaml'), 'utf8')) as {
    datasources: ProvisionedDatasource[]
  }
  return interpolateEnv(doc.datasources, {
    KAMPUNG_INFLUX_URL: influxUrl,
    KAMPUNG_INFLUX_DATABASE: DATABASE,
    KAMPUNG_INFLUX_USERNAME: '',
    KAMPUNG_INFLUX_PASSWORD: '',
    KAMPUNG_PROMETHEUS_URL: 'http://127.0.0.1:9090',
  })
}
let datasources: ProvisionedDatasource[]
let influxDs: ProvisionedDatasource
/** Grafana passes the panel's width in pixels as maxDataPoints; a half-width panel on a laptop. */
const MAX_DATA_POINTS = 800

const dashboards: Array<[string, DashboardJson]> = readdirSync(GENERATED_DIR)
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((f) => [f, JSON.parse(readFileSync(path.join(GENERATED_DIR, f), 'utf8')) as DashboardJson])

let influxd: InfluxdHandle
let district: LoadedDistrict & { cleanup(): Promise<void> }
const report: string[] = []
let loadMs = 0

async function run(q: string): Promise<Series[]> {
  // As Grafana's backend asks: the datasource's URL and database, epoch=ms.
  const res = await fetch(`${influxDs.url}/query`, {
    method: 'POST',
    body: new URLSearchParams({ db: influxDs.jsonData!.dbName!, epoch: 'ms', q }),
  })
  const body = (await res.json()) as { error?: string; results: Array<{ error?: string; series?: Series[] }> }
  if (res.status !== 200 || body.error || body.results[0]?.error)
    throw new Error(`InfluxDB refused ${q}: ${body.error ?? body.results[0]?.error}`)
  return body.results[0]?.series ?? []
}

/** Splits at top-level (parenthesis depth 0) occurrences of `sep`. */
function splitTop(text: string, sep: string): string[] {
  const parts: string[] = []
  let depth = 0
  let start = 0
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]
    if (ch === '(') depth++
    else if (ch === ')') depth--
    else if (depth === 0 && text.startsWith(sep, i)) {
      parts.push(text.slice(start, i))
      start = i + sep.length
      i += sep.length - 1
    }
  }
  parts.push(text.slice(start))
  return parts
}

/** What a query promises to return, read from its text (built by dashboards/src/influxql.ts). */
function shapeOf(query: string) {
  const [selectPart, rest = ''] = splitTop(query.replace(/^SELECT /, ''), ' FROM ')
  const columns = splitTop(selectPart!, ', ').map((c) => {
    const alias = /AS "(\w+)"$/.exec(c)
    if (alias) return alias[1]!
    const fn = /^(\w+)\(/.exec(c)
    return fn ? fn[1]! : c.replace(/"/g, '')
  })
  const groupBy = splitTop(rest, ' GROUP BY ')[1]
  const tags = groupBy
    ? splitTop(groupBy.replace(/ fill\(.*$| ORDER BY.*$| LIMIT.*$/, ''), ', ')
        .filter((g) => !g.startsWith('time('))
        .map((g) => g.replace(/"/g, ''))
    : []
  const measurement = /FROM "(\$?\w+)"\."(\w+)"/.exec(query)![2]!
  const filters = [...query.matchAll(/"(\w+)" =~ \/\^\(\$(\w+)\)\$\//g)].map((m) => ({
    tag: m[1]!,
    variable: m[2]!,
  }))
  return { columns, tags, measurement, filters }
}

const selectedValues = (v: VariableState | undefined, options: string[]): string[] =>
  !v ? options : typeof v.value === 'string' ? [v.value] : Array.isArray(v.value) ? v.value : options

beforeAll(async () => {
  influxd = await startInfluxd()
  datasources = provisionedDatasources(influxd.url)
  influxDs = datasources.find((d) => d.type === 'influxdb')!
  const started = Date.now()
  district = await loadDistrict(influxd.url)
  loadMs = Date.now() - started
}, 600_000)

afterAll(async () => {
  await district?.cleanup()
  await influxd?.stop()
  if (report.length)
    console.log(
      `loaded ${district?.readings} readings in ${loadMs} ms; dashboard queries run against influxd:\n${report.join('\n')}`,
    )
})

describe('the retention policy by range ($rp)', () => {
  it('is raw for ranges up to 2 d starting within its 90 d, rp_1h up to 30 d or older, rp_1d beyond, in every dashboard', async () => {
    const now = Date.now()
    const hour = 3_600_000
    const day = 24 * hour
    const cases: Array<[string, number, number, string]> = [
      ['last 6 h', now - 6 * hour, now, 'raw'],
      ['last 2 d', now - 2 * day, now, 'raw'],
      ['last 2 d and a minute', now - 2 * day - 60_000, now, 'rp_1h'],
      ['last 7 d', now - 7 * day, now, 'rp_1h'],
      ['last 30 d', now - 30 * day, now, 'rp_1h'],
      ['last 30 d and a minute', now - 30 * day - 60_000, now, 'rp_1d'],
      ['last 90 d', now - 90 * day, now, 'rp_1d'],
      ['a day 89 days ago', now - 89 * day, now - 88 * day, 'raw'],
      ['a day 100 days ago (raw keeps 90)', now - 100 * day, now - 99 * day, 'rp_1h'],
      ['a week 4 years ago', now - 4 * 365 * day, now - 4 * 365 * day + 7 * day, 'rp_1h'],
      ['a week 6 years ago (rp_1h keeps 5)', now - 6 * 365 * day, now - 6 * 365 * day + 7 * day, 'rp_1d'],
      ['a day 30 years ago (older than every policy)', now - 10950 * day, now - 10949 * day, 'rp_1d'],
    ]
    const queries = new Set<string>()
    const sumQueries = new Set<string>()
    for (const [, d] of dashboards) {
      const s = d.templating?.list.find((x) => x.name === 'sumfield')
      if (s) sumQueries.add(s.query as string)
      const v = d.templating?.list.find((x) => x.name === 'rp')
      expect(v, `${d.uid} has no $rp`).toBeDefined()
      expect(v!.hide).toBe(2)
      expect(v!.refresh).toBe(2) // on time range change
      queries.add(v!.query as string)
    }
    expect(queries.size).toBe(1)
    const [query] = [...queries]
    for (const [what, fromMs, toMs, expected] of cases) {
      const series = await run(expand(query!, { fromMs, toMs, intervalMs: 60_000, variables: {} }))
      expect(variableValues(series), what).toEqual([expected])
      // and the sum of readings is in `value` on raw, in the hourly or daily `sum` on rp_1h, rp_1d
      expect(sumQueries.size).toBe(1)
      const sums = await run(expand([...sumQueries][0]!, { fromMs, toMs, intervalMs: 60_000, variables: {} }))
      expect(variableValues(sums), what).toEqual([expected === 'raw' ? 'value' : 'sum'])
    }
  })
})

describe.each([
  { mode: 'some', days: undefined, rp: 'rp_1h' },
  { mode: 'all', days: undefined, rp: 'rp_1h' },
  { mode: 'all', days: 40, rp: 'rp_1d' },
] as const)(
  'generated dashboards, variables selecting $mode, range $days d (else the district’s 10 d): $rp',
  ({ mode, days, rp }) => {
    it.each(dashboards)(
      '%s: every variable, panel and annotation query returns its series',
      async (file, d) => {
        const label = days === undefined ? mode : `${mode} ${days} d`
        const vars: Record<string, VariableState> = {}
        const options: Record<string, string[]> = {}
        const range = {
          fromMs: days === undefined ? district.fromMs : district.toMs - days * 86_400_000,
          toMs: district.toMs,
        }
        const ctx = (overrides: Partial<ExpandContext> = {}): ExpandContext => ({
          ...range,
          intervalMs: intervalFor(
            range.toMs - range.fromMs,
            MAX_DATA_POINTS,
            influxDs.jsonData?.timeInterval,
          ),
          variables: vars,
          ...overrides,
        })
        const villageIds = district.villages.map((v) => v.id)

        // 1. Template variables, in order: each may depend on the ones before it.
        for (const v of d.templating?.list ?? []) {
          const name = v.name as string
          expect(v.type, `${file} $${name}`).toBe('query')
          expect((v.datasource as { uid: string }).uid).toBe(influxDs.uid)
          const q = expand(v.query as string, ctx())
          expect(q, `${file} $${name} left a variable unexpanded`).not.toMatch(/\$\w|\$\{|\[\[/)
          const series = await run(q)
          const values = variableValues(series)
          expect(values.length, `${file} $${name}: ${q}`).toBeGreaterThan(0)
          options[name] = values
          const shown = selectedValues(vars.village, options.village ?? villageIds)
          // the district's 10 days: longer than raw's 2 d, so the hourly means; 40 d the daily ones
          if (name === 'rp') expect(values).toEqual([rp])
          else if (name === 'sumfield') expect(values).toEqual(['sum'])
          else if (name === 'village') expect(values.every((x) => villageIds.includes(x))).toBe(true)
          else if (name === 'tree') {
            const expected = district.trees.filter((t) => shown.includes(t.village)).map((t) => t.id)
            expect(new Set(values)).toEqual(new Set(expected))
          } else {
            // device and field ids of the simulated district start with their village's id
            expect(
              values.every((x) => shown.some((village) => x.startsWith(`${village}-`))),
              `${file} $${name} = ${values} outside ${shown}`,
            ).toBe(true)
          }
          const multi = v.multi === true
          const preferred = values.includes(villageIds[0]!) ? villageIds[0]! : values[0]!
          vars[name] = {
            multi,
            includeAll: v.includeAll === true,
            allValue: v.allValue as string | undefined,
            value: !multi ? preferred : mode === 'all' ? { all: true } : values.slice(0, 2),
          }
          report.push(`${label} ${file} $${name}: ${values.length} options`)
        }

        // 2. Every target of every panel.
        let targets = 0
        let executed = 0
        let promql = 0
        for (const panel of allPanels(d)) {
          const answers = new Map<string, Series[]>()
          for (const target of panel.targets ?? []) {
            targets++
            const where = `${file} "${panel.title}" ${target.refId}`
            const ds = target.datasource ?? panel.datasource
            if (ds?.type === 'prometheus') {
              // Not executable here (no Prometheus): asserted to be PromQL on our metrics, and listed.
              expect(target.expr, where).toMatch(
                /^sum by \([\w, ]+\) \((increase|rate)\(kampung_\w+_total\[\$__rate_interval\]\)\)$/,
              )
              expect(target.query, where).toBeUndefined()
              expect(ds.uid).toBe(datasources.find((x) => x.type === 'prometheus')!.uid)
              promql++
              report.push(`${label} ${file} "${panel.title}": PromQL, NOT EXECUTED: ${target.expr}`)
              continue
            }
            expect(ds?.uid, where).toBe(influxDs.uid)
            expect(target.rawQuery, where).toBe(true)
            const query = target.query as string
            const fromMs = panel.timeFrom
              ? range.toMs - Number.parseInt(panel.timeFrom, 10) * 86_400_000
              : range.fromMs
            if (panel.timeFrom) expect(panel.timeFrom).toMatch(/^\d+d$/)
            const c = ctx({
              fromMs,
              intervalMs: intervalFor(
                range.toMs - fromMs,
                // Grafana takes the panel's own maxDataPoints instead of its width where it has one.
                panel.maxDataPoints ?? MAX_DATA_POINTS,
                panel.interval ?? influxDs.jsonData?.timeInterval,
              ),
            })
            const text = expand(query, c)
            expect(text, `${where} left a variable unexpanded`).not.toMatch(/\$\w|\$\{|\[\[/)
            const series = await run(text)
            executed++
            if (!expectsData(file, panel.title, target.refId, vars, options)) {
              expect(series, `${where} should be empty for this selection: ${text}`).toEqual([])
              report.push(
                `${label} ${file} "${panel.title}" ${target.refId}: empty, as expected for this selection`,
              )
              continue
            }
            expect(series.length, `${where} returned nothing: ${text}`).toBeGreaterThan(0)
            const shape = shapeOf(query)
            for (const s of series) {
              expect(s.name, where).toBe(shape.measurement)
              expect(s.columns, where).toEqual(['time', ...shape.columns])
              for (const t of shape.tags) expect(s.tags?.[t], `${where} series without tag ${t}`).toBeTruthy()
              for (const f of shape.filters) {
                const tagValue = s.tags?.[f.tag]
                if (tagValue !== undefined)
                  expect(
                    selectedValues(vars[f.variable], options[f.variable] ?? []),
                    `${where} ${f.tag}`,
                  ).toContain(tagValue)
              }
            }
            const firstValue = shape.columns[0]!
            const numbers = series.flatMap((s) => s.values.map((row) => row[s.columns.indexOf(firstValue)]))
            expect(
              numbers.some((x) => x !== null),
              `${where}: only nulls in ${firstValue}`,
            ).toBe(true)
            await checkSpecific(file, panel.title, target.refId, series, vars, options)
            answers.set(target.refId, series)
            const rows = series.reduce((n, s) => n + s.values.length, 0)
            report.push(
              `${label} ${file} "${panel.title}" ${target.refId}: ${series.length} series, ${rows} rows`,
            )
          }
          await checkPanel(file, panel, answers, vars, options, label)
        }
        expect(executed + promql).toBe(targets)
        expect(targets).toBeGreaterThan(0)

        // 3. Annotations (alert events).
        for (const a of d.annotations?.list ?? []) {
          const target = a.target as { query: string; textColumn: string; tagsColumn: string }
          expect((a.datasource as { uid: string }).uid).toBe(influxDs.uid)
          const text = expand(target.query, ctx())
          const series = await run(text)
          expect(series.length, `${file} annotation ${a.name}: ${text}`).toBeGreaterThan(0)
          for (const s of series)
            for (const col of [target.textColumn, ...target.tagsColumn.split(',')])
              expect(s.columns).toContain(col)
          if (vars.field) {
            const fields = series.flatMap((s) => s.values.map((row) => row[s.columns.indexOf('field')]))
            expect(new Set(fields)).toEqual(new Set(selectedValues(vars.field, [])))
          }
          report.push(`${label} ${file} annotation "${a.name}": ${series[0]!.values.length} events`)
        }
      },
    )
  },
)

/**
 * Panels whose data depends on the selection. O2 is estimated only for trees with D ≥ 5 cm (the fixture's `pohon1` trees, planted at 6 cm);
 * saplings (`pohon2`, 1.5 cm) get only the rough extrapolation. Whether a panel has data depends
 * on which trees the selection holds.
 */
function expectsData(
  file: string,
  title: string,
  refId: string,
  vars: Record<string, VariableState>,
  options: Record<string, string[]>,
): boolean {
  const key = `${file} ${title} ${refId}`
  const villages = selectedValues(vars.village, options.village ?? [])
  const trees = selectedValues(vars.tree, options.tree ?? [])
  const selected = district.trees.filter((t) => villages.includes(t.village) && trees.includes(t.id))
  const big = selected.some((t) => t.device.endsWith('pohon1'))
  const small = selected.some((t) => t.device.endsWith('pohon2'))
  if (key === 'fleet.json Radio signal (RSSI of LoRaWAN uplinks) A') {
    // Only the first village's soil nodes sent LoRaWAN uplinks (the ChirpStack fixture).
    const devices = selectedValues(vars.device, options.device ?? [])
    const lora = district.villages[0]!.nodes.filter((n) => n.kind === 'soil').map((n) => n.id)
    return devices.some((d) => lora.includes(d))
  }
  if (key === 'oksigen.json Estimated O2 released (trees with D ≥ 5 cm) A') return big
  if (key === 'oksigen.json Estimated O2 per tree A') return big
  if (key === 'oksigen.json Estimated O2 per tree B') return small
  return true
}

/**
 * What a panel shows after its transformations (modelled in grafana.ts), from its targets'
 * answers: "Last seen" merges the raw newest point of the last 2 days (A) with the hourly one of
 * 90 days (B) into one row per node.
 */
async function checkPanel(
  file: string,
  panel: Panel,
  answers: Map<string, Series[]>,
  vars: Record<string, VariableState>,
  options: Record<string, string[]>,
  label: string,
): Promise<void> {
  if (`${file} ${panel.title}` !== 'fleet.json Last seen') return
  const key = `${file} ${panel.title}`
  expect([...answers.keys()], key).toEqual(['A', 'B'])
  const [table] = transform(
    [tableFrame(answers.get('A')!), tableFrame(answers.get('B')!)],
    panel.transformations ?? [],
  )
  const rows = Array.from({ length: table!.fields[0]!.values.length }, (_, i) =>
    Object.fromEntries(table!.fields.map((f) => [f.name, f.values[i]])),
  )
  expect(
    table!.fields.map((f) => f.name),
    key,
  ).toEqual(['device', 'village', 'Last report', 'Battery (V)'])
  // Every node of the selection, the silent one too, once; the time of its latest battery report:
  // exact within the last 2 days, else the hour it fell in (rp_1h); the battery of that report.
  const villages = selectedValues(vars.village, options.village ?? [])
  const devices = selectedValues(vars.device, options.device ?? [])
  const expected = district.villages
    .filter((v) => villages.includes(v.id))
    .flatMap((v) => v.nodes)
    .filter((n) => devices.includes(n.id))
  const newest = await run(
    `SELECT last("value") FROM "raw"."battery_voltage" WHERE time > ${district.toMs}ms - 90d GROUP BY "device"`,
  )
  const lastRaw = new Map(
    newest.map((s) => [s.tags!.device!, { timeMs: Number(s.values[0]![0]), value: Number(s.values[0]![1]) }]),
  )
  expect(rows.map((r) => r.device).sort(), key).toEqual(expected.map((n) => n.id).sort())
  for (const r of rows) {
    const raw = lastRaw.get(r.device as string)!
    const recent = raw.timeMs > district.toMs - 2 * 86_400_000
    const hourMs = Math.floor(raw.timeMs / 3_600_000) * 3_600_000
    expect(r['Last report'], `${key} ${r.device}`).toBe(recent ? raw.timeMs : hourMs)
    if (recent) expect(r['Battery (V)'], `${key} ${r.device}`).toBe(raw.value)
    else {
      const [hour] = await run(
        `SELECT "value" FROM "rp_1h"."battery_voltage" WHERE "device" = '${r.device}' AND time = ${hourMs}ms`,
      )
      expect(r['Battery (V)'], `${key} ${r.device}`).toBe(hour!.values[0]![1])
    }
    if (r.device === district.silent.device) {
      expect(recent).toBe(false)
      expect(raw.timeMs).toBeLessThan(district.silent.fromMs)
      expect(raw.timeMs).toBeGreaterThan(district.silent.fromMs - 3_600_000)
    }
  }
  const silentListed = rows.some((r) => r.device === district.silent.device)
  expect(silentListed).toBe(
    devices.includes(district.silent.device) && villages.includes(district.silent.village),
  )
  report.push(
    `${label} ${key}: ${rows.length} nodes after the panel's transformations${silentListed ? ', the silent one dated the hour of its last report' : ''}`,
  )
}

/** What particular panels must show, from what the fixture loaded. */
async function checkSpecific(
  file: string,
  title: string,
  refId: string,
  series: Series[],
  vars: Record<string, VariableState>,
  options: Record<string, string[]>,
): Promise<void> {
  const villages = selectedValues(vars.village, options.village ?? [])
  const column = (name: string) => series.flatMap((s) => s.values.map((row) => row[s.columns.indexOf(name)]))
  const nodesIn = district.villages.filter((v) => villages.includes(v.id)).flatMap((v) => v.nodes)
  const key = `${file} ${title} ${refId}`
  switch (key) {
    case 'district.json Nodes online A':
      expect(column('nodes'), key).toEqual([nodesIn.filter((n) => n.id !== district.silent.device).length])
      break
    case 'district.json Nodes known A':
      expect(column('nodes'), key).toEqual([nodesIn.length])
      break
    case 'district.json Active alerts A':
      expect(column('active'), key).toEqual([
        district.activeAlerts.filter((a) => villages.includes(a.village)).length,
      ])
      break
    case 'district.json Active alerts by village A': {
      const expected = district.activeAlerts.filter((a) => villages.includes(a.village))
      const got = series.flatMap((s) =>
        s.values.map((row) => ({
          village: s.tags!.village!,
          field: row[s.columns.indexOf('field')],
          state: row[s.columns.indexOf('state')],
        })),
      )
      expect(got).toEqual(expect.arrayContaining(expected))
      expect(got.length).toBe(expected.length)
      break
    }
    case 'district.json Villages A':
    case 'district.json Villages B': {
      const q = refId === 'A' ? 'latitude' : 'longitude'
      for (const s of series) {
        const v = district.villages.find((x) => x.id === s.tags!.village)!
        const base = v.nodes[0]![q === 'latitude' ? 'latDeg' : 'lonDeg']
        // nodes sit 0.001° apart from the village centre: their mean is within 0.01°
        expect(Math.abs((s.values[0]![1] as number) - base), key).toBeLessThan(0.01)
      }
      expect(series.map((s) => s.tags!.village).sort()).toEqual([...villages].sort())
      break
    }
    case 'fleet.json Radio signal (RSSI of LoRaWAN uplinks) A':
      // only the first village's soil nodes sent LoRaWAN uplinks; the fixture's best gateway heard -97 dBm
      for (const s of series) expect(s.tags!.device).toMatch(new RegExp(`^${district.villages[0]!.id}-sawah`))
      expect(column('rssi_dbm').filter((x) => x !== null)).toContain(-97)
      break
    case 'oksigen.json Trees by state A':
    case 'oksigen.json Trees, latest assessment A': {
      const trees = selectedValues(vars.tree, options.tree ?? [])
      const expected = district.trees.filter((t) => villages.includes(t.village) && trees.includes(t.id))
      expect(series.map((s) => s.tags!.tree).sort()).toEqual(expected.map((t) => t.id).sort())
      for (const state of column('state')) expect(TREE_STATES).toContain(state)
      // 9 complete days observed: every tree is judged; the one that died on day 2 is not verified
      // (no growth), and not yet failed: that needs a growing season without growth (issue 14)
      for (const s of series) {
        const tree = district.trees.find((t) => t.id === s.tags!.tree)!
        const state = s.values[0]![s.columns.indexOf('state')]
        if (tree.device === 'glagah-pohon2') expect(['growing', 'at_risk'], key).toContain(state)
        else
          expect(
            ['growing', 'eligible', 'verified', 'at_risk', 'dormant'],
            `${key} ${tree.device}`,
          ).toContain(state)
      }
      if (title === 'Trees by state') {
        // what the panel's groupBy transformation makes of the rows: a count per state
        const counts = new Map<string, number>()
        for (const state of column('state'))
          counts.set(state as string, (counts.get(state as string) ?? 0) + 1)
        expect([...counts.values()].reduce((a, b) => a + b, 0)).toBe(expected.length)
        report.push(`  trees by state: ${JSON.stringify(Object.fromEntries(counts))}`)
      }
      break
    }
    case 'oksigen.json Estimated O2 released (trees with D ≥ 5 cm) A':
      expect(column('o2_kg')[0] as number, key).toBeGreaterThan(0)
      break
    case 'village.json Irrigation advice, latest per field A':
      expect(series.map((s) => s.tags!.field).sort(), key).toEqual(
        district.villages
          .find((v) => v.id === villages[0])!
          .nodes.filter((n) => n.kind === 'soil')
          .map((n) => n.id)
          .sort(),
      )
      for (const s of series) expect(['rice', 'maize', 'chili']).toContain(s.tags!.crop)
      break
  }
}
