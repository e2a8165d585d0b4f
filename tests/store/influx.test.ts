import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { KampungError } from '../../src/errors.ts'
import { InfluxPartialWriteError, InfluxStore } from '../../src/store/index.ts'
import { type InfluxdHandle, startInfluxd } from '../harness/influxd.ts'
import { freePort } from '../harness/ports.ts'
import { BASE_MS, reading, storeContract } from './contract.ts'

let influxd: InfluxdHandle
let dbSeq = 0

beforeAll(async () => {
  influxd = await startInfluxd()
})
afterAll(async () => {
  await influxd?.stop()
})

/** Rows of every series of one statement, straight from the HTTP API. */
async function influxql(q: string): Promise<unknown[][]> {
  const res = await fetch(`${influxd.url}/query?epoch=ms`, {
    method: 'POST',
    body: new URLSearchParams({ q }),
  })
  const doc = (await res.json()) as {
    results: Array<{ series?: Array<{ values?: unknown[][] }>; error?: string }>
  }
  if (doc.results[0]?.error) throw new Error(doc.results[0].error)
  return (doc.results[0]?.series ?? []).flatMap((s) => s.values ?? [])
}

function newStore(over: Partial<ConstructorParameters<typeof InfluxStore>[0]> = {}): InfluxStore {
  dbSeq += 1
  return new InfluxStore({
    url: influxd.url,
    database: `kampung_test_${dbSeq}`,
    requestTimeoutMs: 5_000,
    ...over,
  })
}

storeContract('InfluxStore', async () => {
  const store = newStore()
  await store.start()
  return {
    store,
    cleanup: async () => {
      await store.stop()
    },
  }
})

describe('InfluxStore on a real influxd', () => {
  it('creates the raw (default), hourly and daily retention policies and their continuous queries', async () => {
    const store = newStore({ database: 'kampung_schema', rawRetention: '90d' })
    await store.start()
    const rps = await influxql('SHOW RETENTION POLICIES ON "kampung_schema"')
    expect(rps).toContainEqual(['raw', '2160h0m0s', '24h0m0s', 1, true])
    // long shards for the sparse downsampled points: a 90-day chart opens 1 or 2, not 13
    expect(rps).toContainEqual(['rp_1h', '43680h0m0s', '672h0m0s', 1, false])
    expect(rps).toContainEqual(['rp_1d', '0s', '8736h0m0s', 1, false])
    const ours = async () =>
      (await influxql('SHOW CONTINUOUS QUERIES')).filter((row) =>
        String(row[1]).includes(' ON kampung_schema '),
      )
    const cqs = await ours()
    expect(cqs.map((row) => row[0])).toEqual(['cq_rp_1h', 'cq_rp_1d'])
    expect(cqs[0]?.[1]).toBe(
      'CREATE CONTINUOUS QUERY cq_rp_1h ON kampung_schema BEGIN SELECT mean(value) AS value, min(value) AS min, ' +
        'max(value) AS max, sum(value) AS sum INTO kampung_schema.rp_1h.:MEASUREMENT FROM kampung_schema.raw./.*/ GROUP BY time(1h), * END',
    )
    // Days from 00:00 WIB (17:00 UTC), from the hourly points, the day so far rewritten every hour.
    expect(cqs[1]?.[1]).toBe(
      'CREATE CONTINUOUS QUERY cq_rp_1d ON kampung_schema RESAMPLE EVERY 1h FOR 2d BEGIN SELECT mean(value) AS value, ' +
        'min(min) AS min, max(max) AS max, sum(sum) AS sum INTO kampung_schema.rp_1d.:MEASUREMENT ' +
        'FROM kampung_schema.rp_1h./.*/ GROUP BY time(1d, 17h), * END',
    )
    // Starting again (a restart of the service) is fine, and applies a changed retention.
    await store.start()
    const again = newStore({
      database: 'kampung_schema',
      rawRetention: '30d',
      downsample: { interval: '2h', daily: { utcOffsetHours: 8 } },
    })
    await again.start()
    expect(await influxql('SHOW RETENTION POLICIES ON "kampung_schema"')).toContainEqual([
      'raw',
      '720h0m0s',
      '24h0m0s',
      1,
      true,
    ])
    const replaced = await ours()
    expect(replaced).toHaveLength(2)
    expect(String(replaced.find((row) => row[0] === 'cq_rp_1h')?.[1])).toContain('GROUP BY time(2h), *')
    const daily = String(replaced.find((row) => row[0] === 'cq_rp_1d')?.[1])
    expect(daily).toContain('RESAMPLE EVERY 2h FOR 2d')
    expect(daily).toContain('GROUP BY time(1d, 16h), *')
    // Without the daily tier there is neither its policy's CQ nor a row for it (below).
    const noDaily = newStore({ database: 'kampung_schema_nodaily', downsample: { daily: false } })
    await noDaily.start()
    expect(
      (await influxql('SHOW CONTINUOUS QUERIES'))
        .filter((row) => String(row[1]).includes(' ON kampung_schema_nodaily '))
        .map((row) => row[0]),
    ).toEqual(['cq_rp_1h'])
    for (const s of [store, again, noDaily]) await s.stop()
  })

  it('refuses a bad daily tier, every problem at once', async () => {
    const bad = newStore({
      downsample: { daily: { retentionPolicy: 'rp_1h', readBeyond: 'a month', utcOffsetHours: 7.5 } },
    })
    const err = await bad.start().then(
      () => undefined,
      (e: unknown) => e as KampungError,
    )
    expect(err).toMatchObject({ code: 'config_invalid', retryable: false })
    expect(err?.message).toContain('downsample.daily.retentionPolicy: must differ')
    expect(err?.message).toContain('downsample.daily.readBeyond: bad duration a month')
    expect(err?.message).toContain('downsample.daily.utcOffsetHours: an integer from -14 to 14, got 7.5')
  })

  it("writes rp_config, the dashboards' range → policy table, afresh on every start", async () => {
    const table = (db: string) =>
      influxql(`SELECT "rp", "max_range_ms", "sum_field" FROM "${db}"."forever"."rp_config"`)
    const store = newStore({ database: 'kampung_rpconfig' })
    await store.start()
    expect(await influxql('SHOW RETENTION POLICIES ON "kampung_rpconfig"')).toContainEqual([
      'forever',
      '0s',
      '168h0m0s',
      1,
      false,
    ])
    const day = 86_400_000
    const unbounded = Number.MAX_SAFE_INTEGER
    expect(await table('kampung_rpconfig')).toEqual([
      [90 * day, 'raw', 2 * day, 'value'],
      [1820 * day, 'rp_1h', 30 * day, 'sum'],
      [Date.UTC(2100, 0, 1), 'rp_1d', unbounded, 'sum'],
    ])
    // A changed raw retention and thresholds replace the old points instead of adding some.
    const changed = new InfluxStore({
      url: influxd.url,
      database: 'kampung_rpconfig',
      rawRetention: '30d',
      downsample: { readRawUpTo: '6h', daily: { readBeyond: '14d' } },
    })
    await changed.start()
    expect(await table('kampung_rpconfig')).toEqual([
      [30 * day, 'raw', 6 * 3_600_000, 'value'],
      [1820 * day, 'rp_1h', 14 * day, 'sum'],
      [Date.UTC(2100, 0, 1), 'rp_1d', unbounded, 'sum'],
    ])
    // Without the daily tier the hourly one serves every long range.
    const hourlyOnly = newStore({ database: 'kampung_rpconfig_hourly', downsample: { daily: false } })
    await hourlyOnly.start()
    expect(await table('kampung_rpconfig_hourly')).toEqual([
      [90 * day, 'raw', 2 * day, 'value'],
      [Date.UTC(2100, 0, 1), 'rp_1h', unbounded, 'sum'],
    ])
    // Without downsampling every range reads raw.
    const plain = newStore({ database: 'kampung_rpconfig_plain', downsample: false })
    await plain.start()
    expect(await table('kampung_rpconfig_plain')).toEqual([
      [Date.UTC(2100, 0, 1), 'raw', Number.MAX_SAFE_INTEGER, 'value'],
    ])
    for (const s of [store, changed, hourlyOnly, plain]) await s.stop()
  })

  it('the continuous query downsamples into hourly mean/min/max (run by hand with its SELECT)', async () => {
    const store = newStore({ database: 'kampung_cq' })
    await store.start()
    const hour = BASE_MS - 3_600_000
    await store.write([
      reading({ timeMs: hour + 1_000, value: 10 }),
      reading({ timeMs: hour + 2_000, value: 20 }),
      reading({ timeMs: hour + 3_000, value: 60 }),
    ])
    // The CQ's own SELECT, bounded to one hour, as the CQ service would run it.
    await influxql(
      'SELECT mean("value") AS "value", min("value") AS "min", max("value") AS "max" ' +
        `INTO "kampung_cq"."rp_1h".:MEASUREMENT FROM "kampung_cq"."raw"./.*/ ` +
        `WHERE time >= ${hour}ms AND time < ${hour + 3_600_000}ms GROUP BY time(1h), *`,
    )
    const rows = await influxql(
      'SELECT "value","min","max","device","unit" FROM "kampung_cq"."rp_1h"."soil_moisture"',
    )
    expect(rows).toEqual([[hour, 30, 10, 60, 'node-01', '%VWC']])
  })

  it('the daily continuous query, as influxd runs it: local days from the hourly points, the day so far included', async () => {
    const store = newStore({ database: 'kampung_cq_daily' })
    await store.start()
    const daily = store.continuousQueries().find((cq) => cq.name === 'cq_rp_1d')!
    const hour = 3_600_000
    const day = 24 * hour
    const wib = 7 * hour
    const todayMs = Math.floor((Date.now() + wib) / day) * day - wib // 00:00 WIB today, in UTC
    const yesterdayMs = todayMs - day
    const hourly = (timeMs: number, mean: number, min: number, max: number, sum: number) =>
      `soil_moisture,device=node-01,sensor=soil1,unit=%VWC,village=sukorejo value=${mean},min=${min},max=${max},sum=${sum} ${timeMs}`
    const lines = [
      hourly(yesterdayMs, 10, 5, 15, 60),
      hourly(yesterdayMs + 12 * hour, 20, 1, 30, 120),
      hourly(yesterdayMs + 23 * hour, 30, 29, 31, 180),
      hourly(todayMs, 40, 39, 41, 240),
      // the hour before yesterday (local): another day
      hourly(yesterdayMs - hour, 99, 99, 99, 594),
    ]
    const res = await fetch(`${influxd.url}/write?db=kampung_cq_daily&rp=rp_1h&precision=ms`, {
      method: 'POST',
      body: lines.join('\n'),
    })
    expect(res.status).toBe(204)
    // The store's own statement, re-run every second instead of every hour, then dropped.
    await influxql(
      daily.statement
        .replace('"cq_rp_1d"', '"cq_rp_1d_now"')
        .replace(/RESAMPLE EVERY \S+ FOR/, 'RESAMPLE EVERY 1s FOR'),
    )
    const select =
      'SELECT "value","min","max","sum","device","unit" FROM "kampung_cq_daily"."rp_1d"."soil_moisture"'
    let rows: unknown[][] = []
    for (let i = 0; i < 100 && rows.length < 2; i++) {
      await new Promise((r) => setTimeout(r, 100))
      rows = await influxql(`${select} WHERE time >= ${yesterdayMs}ms`)
    }
    await influxql('DROP CONTINUOUS QUERY "cq_rp_1d_now" ON "kampung_cq_daily"')
    expect(rows).toEqual([
      [yesterdayMs, 20, 1, 31, 360, 'node-01', '%VWC'],
      [todayMs, 40, 39, 41, 240, 'node-01', '%VWC'],
    ])
    // yesterday started at 00:00 WIB = 17:00 UTC
    expect(new Date(yesterdayMs).getUTCHours()).toBe(17)
    await store.stop()
  })

  it('refuses a point outside the raw retention as a not-retryable partial write, keeping the good lines', async () => {
    const store = newStore()
    await store.start()
    const err = await store
      .write([reading({ timeMs: BASE_MS }), reading({ timeMs: 1_000 }), reading({ timeMs: BASE_MS + 1 })])
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(InfluxPartialWriteError)
    expect((err as InfluxPartialWriteError).retryable).toBe(false)
    expect((err as InfluxPartialWriteError).refused[0]?.dropped).toBe(1)
    expect((err as InfluxPartialWriteError).refusedReadings).toEqual([
      { index: 1, message: expect.stringMatching(/beyond retention/) },
    ])
    expect(await store.count({ quantity: 'soil_moisture' })).toBe(2)
  })

  it('names exactly which readings of a partial write were refused, the others stored', async () => {
    const store = newStore()
    await store.start()
    expect(store.retentionMs).toBe(90 * 86_400_000)
    const old = new Set([3, 17, 18, 40])
    const readings = Array.from({ length: 50 }, (_, i) =>
      reading({ timeMs: old.has(i) ? 1_000 + i : BASE_MS + i }),
    )
    const err = (await store.write(readings).catch((e: unknown) => e)) as InfluxPartialWriteError
    expect(err).toBeInstanceOf(InfluxPartialWriteError)
    expect(err.refusedReadings.map((r) => r.index).sort((a, b) => a - b)).toEqual([3, 17, 18, 40])
    expect(await store.count({ quantity: 'soil_moisture' })).toBe(46)
  })

  it('reports a missing database as not retryable, and a wrong URL as retryable', async () => {
    const unstarted = newStore()
    const err = await unstarted.write([reading()]).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(KampungError)
    expect((err as KampungError).retryable).toBe(false)
    const badConfig = await newStore({ database: 'bad name"' })
      .start()
      .catch((e: unknown) => e)
    expect((badConfig as KampungError).code).toBe('config_invalid')
    const nobody = new InfluxStore({ url: `http://127.0.0.1:${await freePort()}`, database: 'x' })
    const down = await nobody.write([reading()]).catch((e: unknown) => e)
    expect((down as KampungError).retryable).toBe(true)
    expect((down as KampungError).code).toBe('store_unreachable')
  })

  it('fails retryably while influxd is down and works at once when it is back', async () => {
    const store = newStore()
    await store.start()
    await store.write([reading({ value: 1 })])
    await influxd.kill('SIGKILL')
    for (const attempt of [
      () => store.write([reading({ value: 2 })]),
      () => store.count({ quantity: 'soil_moisture' }),
    ]) {
      const err = await attempt().catch((e: unknown) => e)
      expect(err).toBeInstanceOf(KampungError)
      expect((err as KampungError).retryable).toBe(true)
    }
    await influxd.restart()
    // No host-down grace period: the first query and write after the restart succeed.
    expect(await store.query({ quantity: 'soil_moisture' })).toEqual([reading({ value: 1 })])
    await store.write([reading({ value: 3 })])
    expect(await store.query({ quantity: 'soil_moisture' })).toEqual([reading({ value: 3 })])
    await store.start()
  })
})
