import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { encodeEvent, InfluxEventSink } from '../../src/alerts/index.ts'
import { type InfluxdHandle, startInfluxd } from '../harness/influxd.ts'
import { influxQuery } from '../harness/influxql.ts'
import { HOUR, only, type Rig, reading, rig, seed, syntheticWeather, wib } from './helpers.ts'

let influx: InfluxdHandle
beforeAll(async () => {
  influx = await startInfluxd()
}, 60_000)
afterAll(async () => {
  await influx?.stop()
})

describe('alert events in InfluxDB (real influxd)', () => {
  it('line protocol: tags escaped, empty tags left out, alert_id integer, message quoted', () => {
    expect(
      encodeEvent({
        measurement: 'alert_events',
        timeMs: 1_780_000_000_000,
        tags: {
          village: 'ke miren',
          field: undefined,
          rule: 'dry,x=1',
          severity: 'warning',
          state: 'firing',
        },
        fields: { alert_id: 12, value: 18.5, message: 'say "hi"\\ \nnext' },
      }),
    ).toBe(
      String.raw`alert_events,rule=dry\,x\=1,severity=warning,state=firing,village=ke\ miren alert_id=12i,value=18.5,message="say \"hi\"\\  next" 1780000000000`,
    )
  })

  it('writes alert events and irrigation advice under the `events` policy; an outage loses nothing', async () => {
    const t0 = wib(2026, 7, 2, 9)
    const sink = new InfluxEventSink({ url: influx.url, database: 'kampung' })
    let r: Rig | undefined
    try {
      r = await rig({ ...only('dry'), groupWaitMs: 0 }, { startMs: t0, events: sink })
      await seed(r)
      const rps = await influxQuery(influx.url, 'kampung', 'SHOW RETENTION POLICIES ON "kampung"')
      expect(rps.find((p) => p.name === 'events')).toMatchObject({ duration: '0s' }) // INF

      const feed = (t: number, v: number) => {
        r!.clock.now = t
        r!.engine.onReadings([reading('soil-1', 'soil_moisture', v, t)])
        r!.engine.tick(t)
      }
      feed(t0, 18)
      feed(t0 + 2 * HOUR, 18) // fires
      expect(await r.engine.exportEvents()).toBe(1)
      const firing = await influxQuery(
        influx.url,
        'kampung',
        'SELECT * FROM "kampung"."events"."alert_events"',
      )
      expect(firing).toHaveLength(1)
      const id = r.engine.listAlerts()[0]!.id
      expect(firing[0]).toMatchObject({
        time: t0 + 2 * HOUR,
        village: 'kemiren',
        field: 'kemiren-sawah1',
        rule: 'dry',
        severity: 'warning',
        state: 'firing',
        alert_id: id,
        value: 18,
      })
      expect(String(firing[0]!.message)).toMatch(/^SAWAH1 kering: kelembapan tanah 18% \(batas 25%\)/)

      // InfluxDB goes away: the acknowledgement and the resolution wait in SQLite.
      await influx.kill('SIGKILL')
      r.engine.ack(id, 'officer:test', t0 + 3 * HOUR)
      feed(t0 + 4 * HOUR, 31)
      expect(await r.engine.exportEvents()).toBe(0)
      expect(r.engine.pendingEvents()).toHaveLength(2)
      await influx.restart()
      expect(await r.engine.exportEvents()).toBe(2)
      expect(r.engine.pendingEvents()).toHaveLength(0)
      const all = await influxQuery(
        influx.url,
        'kampung',
        'SELECT "state", "alert_id" FROM "kampung"."events"."alert_events" ORDER BY time',
      )
      expect(all.map((e) => e.state)).toEqual(['firing', 'acknowledged', 'resolved'])
      expect(new Set(all.map((e) => e.alert_id))).toEqual(new Set([id]))

      // A day of weather closes into irrigation advice, written to the same policy.
      const day = wib(2026, 7, 3)
      for (let h = 0; h < 24; h++) {
        const t = day + h * HOUR
        r.clock.now = t
        r.engine.onReadings(syntheticWeather(h, t))
      }
      r.clock.now = day + 26 * HOUR
      r.engine.tick(r.clock.now)
      expect(await r.engine.exportEvents()).toBe(2)
      const advice = await influxQuery(
        influx.url,
        'kampung',
        'SELECT * FROM "kampung"."events"."irrigation_advice" WHERE "field" = \'kemiren-sawah1\'',
      )
      expect(advice).toHaveLength(1)
      const mine = r.engine.advisor.latestAdvice('kemiren-sawah1')!
      expect(advice[0]).toMatchObject({ time: day, village: 'kemiren', crop: 'chili', days: 1 })
      for (const [k, v] of Object.entries({
        et0_mm: mine.et0Mm,
        kc: mine.kc,
        etc_mm: mine.etcMm,
        rain_mm: mine.rainMm,
        rain_eff_mm: mine.effectiveRainMm,
        need_mm: mine.netNeedMm,
        litres: mine.litres,
      }))
        expect(advice[0]![k] as number).toBeCloseTo(v, 9)
    } finally {
      await r?.stop()
    }
  }, 60_000)

  it('an event InfluxDB refuses for good is set aside with its reason; the events after it still go', async () => {
    const t0 = wib(2026, 7, 2, 9)
    const sink = new InfluxEventSink({ url: influx.url, database: 'refusing' })
    let r: Rig | undefined
    try {
      r = await rig({ ...only('dry'), groupWaitMs: 0 }, { startMs: t0, events: sink })
      await seed(r)
      // Someone wrote alert_events.value as a string into this shard: InfluxDB now answers every
      // float value there with 400 "field type conflict" (not retryable).
      const res = await fetch(`${influx.url}/write?db=refusing&rp=events&precision=ms`, {
        method: 'POST',
        body: `alert_events,rule=manual value="n/a" ${t0}`,
      })
      expect(res.status).toBe(204)
      r.clock.now = t0
      r.engine.onReadings([reading('soil-1', 'soil_moisture', 18, t0)])
      r.clock.now = t0 + 2 * HOUR
      r.engine.onReadings([reading('soil-1', 'soil_moisture', 18, t0 + 2 * HOUR)])
      r.engine.tick(r.clock.now) // the dry alert fires: one alert event
      const day = wib(2026, 7, 3)
      for (let h = 0; h < 24; h++) {
        r.clock.now = day + h * HOUR
        r.engine.onReadings(syntheticWeather(h, day + h * HOUR))
      }
      r.clock.now = day + 26 * HOUR
      r.engine.tick(r.clock.now) // the day closes: irrigation advice events after it
      const pending = r.engine.pendingEvents().map((e) => e.measurement)
      expect(pending[0]).toBe('alert_events')
      expect(pending.slice(1).every((m) => m === 'irrigation_advice')).toBe(true)
      expect(await r.engine.exportEvents()).toBe(pending.length - 1)
      expect(r.engine.pendingEvents()).toEqual([]) // nothing left to hold back the next ones
      const advice = await influxQuery(
        influx.url,
        'refusing',
        'SELECT * FROM "refusing"."events"."irrigation_advice"',
      )
      expect(advice).toHaveLength(pending.length - 1)
      const aside = r.registry
        .database()
        .prepare('SELECT measurement, export_error FROM alert_events WHERE export_error IS NOT NULL')
        .all()
      expect(aside).toEqual([
        { measurement: 'alert_events', export_error: expect.stringMatching(/field type conflict/) },
      ])
    } finally {
      await r?.stop()
    }
  }, 60_000)
})
