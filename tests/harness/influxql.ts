/** Ask the real InfluxDB directly (not through our store) what it holds. */
export async function influxQuery(
  url: string,
  db: string,
  q: string,
): Promise<Array<Record<string, unknown>>> {
  const res = await fetch(`${url}/query?db=${encodeURIComponent(db)}&epoch=ms&q=${encodeURIComponent(q)}`)
  if (!res.ok) throw new Error(`query failed ${res.status}: ${await res.text()}`)
  const body = (await res.json()) as {
    results: Array<{
      error?: string
      series?: Array<{ columns: string[]; values: unknown[][]; tags?: Record<string, string> }>
    }>
  }
  const result = body.results[0]
  if (result?.error) throw new Error(`query error: ${result.error}`)
  const rows: Array<Record<string, unknown>> = []
  for (const s of result?.series ?? []) {
    for (const v of s.values) {
      const row: Record<string, unknown> = { ...s.tags }
      s.columns.forEach((c, i) => {
        row[c] = v[i]
      })
      rows.push(row)
    }
  }
  return rows
}

export async function influxCount(url: string, db: string, measurement: string, where = ''): Promise<number> {
  const rows = await influxQuery(
    url,
    db,
    `SELECT count("value") FROM "${db}"."raw"."${measurement}" ${where}`,
  )
  return Number(rows[0]?.count ?? 0)
}
