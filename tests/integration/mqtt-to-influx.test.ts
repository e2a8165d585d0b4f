import mqtt from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startApp, type TestApp, waitFor } from '../harness/app.ts'
import { mosquittoPub, runClient } from '../harness/clients.ts'
import { type InfluxdHandle, startInfluxd } from '../harness/influxd.ts'
import { influxCount, influxQuery } from '../harness/influxql.ts'

/**
 * The foundation path as a user sees it: Eclipse's own mosquitto_pub, with a device's credentials,
 * publishing to our broker; the readings land in the real InfluxDB.
 */
describe('device → broker → ingest → InfluxDB', () => {
  let influx: InfluxdHandle
  let t: TestApp
  const secrets: Record<string, string> = {}
  const V = 'kemiren'

  beforeAll(async () => {
    influx = await startInfluxd()
    t = await startApp({ store: { kind: 'influx', influx: { url: influx.url, database: 'kampung' } } })
    secrets['soil-01'] = await t.addDevice({ id: 'soil-01', village: V, format: 'json' })
    secrets['wx-01'] = await t.addDevice({ id: 'wx-01', village: V, kind: 'weather', format: 'senml' })
    secrets['soil-02'] = await t.addDevice({
      id: 'soil-02',
      village: V,
      format: 'lpp',
      channels: { '1': { quantity: 'soil_moisture', sensor: 'probe' } },
    })
    secrets.steady = await t.addDevice({ id: 'steady', village: V, format: 'json' })
  })

  afterAll(async () => {
    await t?.stop()
    await influx?.stop()
  })

  const pub = (device: string, message: string | Buffer, extra: { topic?: string; password?: string } = {}) =>
    mosquittoPub({
      port: t.mqttPort,
      username: device,
      password: extra.password ?? secrets[device]!,
      topic: extra.topic ?? `kampung/${V}/${device}/up`,
      message,
    })

  it('stores native JSON with values, units, times and tags', async () => {
    const ts = Date.UTC(2026, 10, 27, 3, 0, 0)
    const r = await pub(
      'soil-01',
      JSON.stringify({ ts, values: { soil_moisture: 31.5, soil_temperature: 27.25, battery_voltage: 3.71 } }),
    )
    expect(r.code, r.stderr).toBe(0)
    const rows = await influxQuery(
      influx.url,
      'kampung',
      `SELECT * FROM "kampung"."raw"."soil_moisture" WHERE "device" = 'soil-01'`,
    )
    expect(rows).toEqual([
      { time: ts, value: 31.5, village: V, device: 'soil-01', sensor: 'main', unit: '%VWC' },
    ])
    const temp = await influxQuery(influx.url, 'kampung', `SELECT * FROM "kampung"."raw"."soil_temperature"`)
    expect(temp[0]).toMatchObject({ time: ts, value: 27.25, unit: 'Cel' })
    const vbat = await influxQuery(influx.url, 'kampung', `SELECT * FROM "kampung"."raw"."battery_voltage"`)
    expect(vbat[0]).toMatchObject({ time: ts, value: 3.71, unit: 'V' })
  })

  it('stores SenML with base name, base time (seconds) and unit conversion', async () => {
    const bt = Date.UTC(2026, 10, 27, 4, 0, 0) / 1000
    const senml = [
      { bn: 'wx-01/', bt, n: 'air_temperature', u: 'Cel', v: 29.5 },
      { n: 'relative_humidity', u: '%RH', v: 82 },
      { n: 'pressure', u: 'Pa', v: 100870 },
      { n: 'rainfall', u: 'mm', v: 1.2, t: 60 },
    ]
    const r = await pub('wx-01', JSON.stringify(senml))
    expect(r.code, r.stderr).toBe(0)
    const p = await influxQuery(influx.url, 'kampung', `SELECT * FROM "kampung"."raw"."pressure"`)
    expect(p).toEqual([
      { time: bt * 1000, value: 1008.7, village: V, device: 'wx-01', sensor: 'wx-01', unit: 'hPa' },
    ])
    const rain = await influxQuery(influx.url, 'kampung', `SELECT * FROM "kampung"."raw"."rainfall"`)
    expect(rain[0]).toMatchObject({ time: (bt + 60) * 1000, value: 1.2, unit: 'mm' })
    const rh = await influxQuery(
      influx.url,
      'kampung',
      `SELECT * FROM "kampung"."raw"."relative_humidity" WHERE "device" = 'wx-01'`,
    )
    expect(rh[0]).toMatchObject({ time: bt * 1000, value: 82, unit: '%RH' })
  })

  it('stores Cayenne LPP through the device channel map, stamped on arrival', async () => {
    // ch1 analog input 3150 × 0.01 = 31.50 → soil_moisture (mapped); ch2 temperature 272 × 0.1 = 27.2 °C;
    // ch3 humidity 160 × 0.5 = 80 %RH
    const lpp = Buffer.from('01020c4e026701100368a0', 'hex')
    const before = Date.now()
    const r = await pub('soil-02', lpp)
    const after = Date.now()
    expect(r.code, r.stderr).toBe(0)
    const rows = await influxQuery(
      influx.url,
      'kampung',
      `SELECT * FROM "kampung"."raw"."soil_moisture" WHERE "device" = 'soil-02'`,
    )
    expect(rows).toHaveLength(1)
    expect(rows[0]).toMatchObject({ value: 31.5, sensor: 'probe', unit: '%VWC', village: V })
    expect(rows[0]!.time as number).toBeGreaterThanOrEqual(before)
    expect(rows[0]!.time as number).toBeLessThanOrEqual(after)
    const t2 = await influxQuery(
      influx.url,
      'kampung',
      `SELECT * FROM "kampung"."raw"."air_temperature" WHERE "device" = 'soil-02'`,
    )
    expect(t2[0]).toMatchObject({ value: 27.2, sensor: 'ch2' })
    const h = await influxQuery(
      influx.url,
      'kampung',
      `SELECT * FROM "kampung"."raw"."relative_humidity" WHERE "device" = 'soil-02'`,
    )
    expect(h[0]).toMatchObject({ value: 80, sensor: 'ch3' })
  })

  it('refuses bad credentials, foreign topics, oversized and malformed payloads while good readings keep flowing', async () => {
    // A steady device keeps publishing throughout.
    const steady = await mqtt.connectAsync(`mqtt://127.0.0.1:${t.mqttPort}`, {
      clientId: 'steady',
      username: 'steady',
      password: secrets.steady,
      protocolVersion: 4,
    })
    const base = Date.UTC(2026, 10, 27, 5, 0, 0)
    const steadyCount = 200
    const publishing = (async () => {
      for (let i = 0; i < steadyCount; i++) {
        await steady.publishAsync(
          `kampung/${V}/steady/up`,
          JSON.stringify({ ts: base + i * 1000, values: { soil_moisture: 40 } }),
          {
            qos: 1,
          },
        )
        await new Promise((r) => setTimeout(r, 10))
      }
    })()

    // The device listens to its own errors topic.
    const errors = runClient('mosquitto_sub', [
      '-h',
      '127.0.0.1',
      '-p',
      String(t.mqttPort),
      '-u',
      'soil-01',
      '-P',
      secrets['soil-01']!,
      '-i',
      'soil-01:sub',
      '-t',
      `kampung/${V}/soil-01/errors`,
      '-q',
      '1',
      '-C',
      '2',
      '-W',
      '20',
    ])
    const wxErrors = runClient('mosquitto_sub', [
      '-h',
      '127.0.0.1',
      '-p',
      String(t.mqttPort),
      '-u',
      'wx-01',
      '-P',
      secrets['wx-01']!,
      '-i',
      'wx-01:sub',
      '-t',
      `kampung/${V}/wx-01/errors`,
      '-q',
      '1',
      '-C',
      '1',
      '-W',
      '20',
    ])
    await new Promise((r) => setTimeout(r, 300))

    const wrongPassword = await pub('soil-01', '{"values":{"soil_moisture":1}}', {
      password: 'not-the-secret',
    })
    expect(wrongPassword.code).not.toBe(0)
    expect(wrongPassword.stderr).toMatch(/not authori[sz]ed|bad user name or password/i)

    // soil-01 tries to publish as soil-02
    await pub('soil-01', JSON.stringify({ values: { soil_moisture: 99 } }), {
      topic: `kampung/${V}/soil-02/up`,
    })
    const oversized = JSON.stringify({ values: { soil_moisture: 5 }, pad: 'x'.repeat(70 * 1024) })
    await pub('soil-01', oversized)

    const badJson = await pub('soil-01', '{"values": {"soil_moisture": 31.5,')
    expect(badJson.code).toBe(0) // delivered and acknowledged: the error is reported on the errors topic
    const outOfRange = await pub('soil-01', JSON.stringify({ values: { soil_moisture: 140 } }))
    expect(outOfRange.code).toBe(0)
    await pub('wx-01', '[{"n":"air_temperature","u":"Cel","vs":"hot"}]')
    await pub('soil-02', Buffer.from('01020c', 'hex')) // truncated LPP

    const reports = (await errors).stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
    expect(reports).toHaveLength(2)
    expect(reports[0].rejected[0]).toMatchObject({ reason: 'malformed' })
    expect(reports[0].rejected[0].message).toBeTruthy()
    expect(reports[1].rejected[0]).toMatchObject({
      reason: 'out_of_range',
      path: expect.stringContaining('soil_moisture'),
    })
    const wx = JSON.parse((await wxErrors).stdout.trim())
    expect(wx.rejected[0].reason).toBe('unsupported')

    await publishing
    await steady.endAsync()
    await waitFor(
      'all steady readings',
      async () =>
        (await influxCount(influx.url, 'kampung', 'soil_moisture', `WHERE "device" = 'steady'`)) ===
        steadyCount,
    )

    // nothing from the refused publishes was stored
    expect(await influxCount(influx.url, 'kampung', 'soil_moisture', `WHERE "device" = 'soil-02'`)).toBe(1)
    expect(await influxCount(influx.url, 'kampung', 'soil_moisture', `WHERE "device" = 'soil-01'`)).toBe(1)

    const metrics = await (await fetch(`${t.apiUrl}/metrics`)).text()
    expect(metrics).toMatch(/kampung_readings_rejected_total\{reason="malformed"\} [1-9]/)
    expect(metrics).toMatch(/kampung_readings_rejected_total\{reason="out_of_range"\} 1/)
    expect(metrics).toMatch(/kampung_broker_refusals_total\{cause="[a-z_]+"\} [1-9]/)
  })
})
