import { afterEach, describe, expect, it } from 'vitest'
import {
  DAY,
  HOUR,
  MIN,
  only,
  PHONE_A,
  PHONE_B,
  PHONE_OFFICER,
  type Rig,
  reading,
  rig,
  seed,
  wib,
} from './helpers.ts'

let r: Rig | undefined
afterEach(async () => {
  await r?.stop()
  r = undefined
})

const instant = (rules: ReturnType<typeof only>) => ({
  ...rules,
  rules: {
    ...rules.rules,
    crops: {
      chili: {
        dry: { thresholdPct: 25, forMs: 0, enabled: true },
        waterlogged: { thresholdPct: 38, forMs: 0, enabled: true },
      },
    },
  },
})

/** Feed one reading at t and run the timers. */
function at(rg: Rig, t: number, ...rs: ReturnType<typeof reading>[]): void {
  rg.clock.now = t
  if (rs.length) rg.engine.onReadings(rs)
  rg.engine.tick(t)
}

describe('farmer commands by SMS', () => {
  it('SUDAH acknowledges the field’s dry alert: no reminder while the probe still reads dry', async () => {
    // A probe that reads low even after watering (a soil unlike its class, or a calibration
    // offset) kept the alert open; before, the farmer was reminded every 12 h for the whole season.
    const t0 = wib(2026, 7, 2, 9)
    r = await rig({ ...instant(only('dry')), groupWaitMs: 0 }, { startMs: t0 })
    await seed(r)
    at(r, t0, reading('soil-1', 'soil_moisture', 18, t0), reading('soil-2', 'soil_moisture', 18, t0))
    const [dry1] = r.engine.listAlerts({ field: 'kemiren-sawah1' })
    const [dry2] = r.engine.listAlerts({ field: 'kemiren-sawah2' })
    expect(dry1).toMatchObject({ rule: 'dry', state: 'firing' })
    // Without a reply the farmer is reminded after the repeat interval (12 h).
    at(r, t0 + 13 * HOUR, reading('soil-1', 'soil_moisture', 18, t0 + 13 * HOUR))
    expect(r.outbox.to(PHONE_A).filter((m) => m.text.startsWith('Pengingat'))).toHaveLength(1)
    // Pak Budi has one field: SUDAH is about SAWAH1 and acknowledges its dry alert, not SAWAH2's.
    await r.outbox.receive(PHONE_A, 'sudah', t0 + 14 * HOUR)
    expect(r.outbox.to(PHONE_A).at(-1)!.text).toMatch(/^Tercatat: SAWAH1 sudah diairi/)
    expect(r.engine.getAlert(dry1!.id)).toMatchObject({ state: 'firing', ackedBy: 'farmer:pak-budi' })
    expect(r.engine.getAlert(dry2!.id)!.ackedAtMs).toBeUndefined()
    for (let h = 15; h <= 15 + 48; h += 6)
      at(r, t0 + h * HOUR, reading('soil-1', 'soil_moisture', 18.5, t0 + h * HOUR))
    expect(r.outbox.to(PHONE_A).filter((m) => m.text.startsWith('Pengingat'))).toHaveLength(1)
    // It still resolves by itself when the probe says so.
    at(r, t0 + 70 * HOUR, reading('soil-1', 'soil_moisture', 30, t0 + 70 * HOUR))
    expect(r.engine.getAlert(dry1!.id)!.state).toBe('resolved')
  })

  it('OK acknowledges only the farmer’s own alert and stops reminders; CEK, STOP, BANTUAN, unknown text', async () => {
    const t0 = wib(2026, 7, 2, 9)
    r = await rig({ ...instant(only('dry')), groupWaitMs: 0 }, { startMs: t0 })
    await seed(r)
    await r.registry.addDevice({ id: 'soil-9', village: 'kemiren', kind: 'soil', format: 'json' })
    r.engine.directory.addField({
      id: 'other',
      village: 'kemiren',
      name: 'KEBUN9',
      crop: 'chili',
      stage: 'mid',
      areaHa: 1,
      devices: ['soil-9'],
    })
    at(
      r,
      t0,
      reading('soil-1', 'soil_moisture', 18.4, t0),
      reading('soil-9', 'soil_moisture', 18, t0),
      reading('soil-1', 'soil_temperature', 27.1, t0),
    )
    const mine = r.engine.listAlerts({ field: 'kemiren-sawah1' })[0]!
    const notMine = r.engine.listAlerts({ field: 'other' })[0]!
    expect(r.outbox.to(PHONE_A)).toHaveLength(1)

    await r.outbox.receive(PHONE_A, `  ok   ${notMine.id} `)
    expect(r.outbox.to(PHONE_A).at(-1)!.text).toBe(`Peringatan ${notMine.id} tidak ditemukan.`)
    expect(r.engine.getAlert(notMine.id)!.ackedAtMs).toBeUndefined()

    await r.outbox.receive(PHONE_A, `Ok ${mine.id}`)
    expect(r.outbox.to(PHONE_A).at(-1)!.text).toBe(`Peringatan ${mine.id} diterima. Terima kasih.`)
    expect(r.engine.getAlert(mine.id)!.ackedBy).toBe('farmer:pak-budi')

    await r.outbox.receive(PHONE_A, 'cek sawah1')
    const cek = r.outbox.to(PHONE_A).at(-1)!.text
    // With a probe the need is the measured depletion (FAO-56 ch. 8): loam (district default) θFC
    // 25 %, chili Zr 0.75 m: Dr = 10 × (25 − 18.4) × 0.75 = 49.5 mm → ~50 mm = 75.000 L on 0,15 ha.
    expect(cek).toMatch(
      /^SAWAH1: kelembapan tanah 18,4% \(09\.00\); suhu tanah 27,1 C; hujan 24j 0,0 mm; #\d+ kering; perlu air ~50 mm = 75\.000 L$/,
    )

    await r.outbox.receive(PHONE_A, 'CEK SAWAH7')
    expect(r.outbox.to(PHONE_A).at(-1)!.text).toBe('Lahan SAWAH7 tidak ditemukan. Lahan Anda: SAWAH1')

    await r.outbox.receive(PHONE_A, 'bantuan')
    expect(r.outbox.to(PHONE_A).at(-1)!.text).toMatch(/^Perintah: OK <no>.*CEK <lahan>.*STOP/)
    await r.outbox.receive(PHONE_A, 'apa kabar')
    expect(r.outbox.to(PHONE_A).at(-1)!.text).toMatch(/^Perintah tidak dikenal\. Perintah:/)
    expect(r.outbox.to(PHONE_A).at(-1)!.text.length).toBeLessThanOrEqual(160)

    // Acknowledged: no reminder for anyone after the repeat interval (Bu Sri did not answer, but the
    // alert is acknowledged for the field).
    const before = r.outbox.messages.length
    at(r, t0 + 13 * HOUR, reading('soil-1', 'soil_moisture', 18, t0 + 13 * HOUR))
    expect(r.outbox.to(PHONE_A).filter((m) => m.text.startsWith('Pengingat'))).toHaveLength(0)
    expect(r.outbox.to(PHONE_B).filter((m) => m.text.startsWith('Pengingat'))).toHaveLength(0)
    expect(r.outbox.messages.length).toBe(before)

    // STOP: confirmed, then nothing more — not even the all clear.
    await r.outbox.receive(PHONE_A, 'STOP')
    expect(r.outbox.to(PHONE_A).at(-1)!.text).toMatch(/^Anda berhenti berlangganan/)
    expect(r.engine.directory.getFarmer('pak-budi')!.stopped).toBe(true)
    const countA = r.outbox.to(PHONE_A).length
    at(r, t0 + 14 * HOUR, reading('soil-1', 'soil_moisture', 31, t0 + 14 * HOUR))
    at(r, t0 + 15 * HOUR, reading('soil-1', 'soil_moisture', 18, t0 + 15 * HOUR))
    expect(r.outbox.to(PHONE_A)).toHaveLength(countA)
    expect(r.outbox.to(PHONE_B).filter((m) => m.text.includes('sudah normal'))).toHaveLength(1)
    expect(r.outbox.to(PHONE_B).filter((m) => m.text.includes('kering:'))).toHaveLength(2)

    // An unknown number is told so, once.
    await r.outbox.receive('+6289999999999', 'OK 1')
    expect(r.outbox.to('+6289999999999')[0]!.text).toMatch(/belum terdaftar/)
  })

  it('English farmers get English texts with English numbers', async () => {
    const t0 = wib(2026, 7, 2, 9)
    r = await rig({ ...instant(only('dry')), groupWaitMs: 0 }, { startMs: t0 })
    await seed(r)
    r.engine.directory.addFarmer({ id: 'john', name: 'John', phone: '+6281300000003', language: 'en' })
    r.engine.directory.subscribe('john', 'kemiren-sawah1')
    at(r, t0, reading('soil-1', 'soil_moisture', 18.4, t0))
    expect(r.outbox.to('+6281300000003')[0]!.text).toMatch(
      /^SAWAH1 dry: soil moisture 18% \(limit 25%\)\. Irrigate ~50 mm = 75,000 L for 0\.15 ha\. Reply OK \d+$/,
    )
    await r.outbox.receive('+6281300000003', 'help')
    expect(r.outbox.to('+6281300000003').at(-1)!.text).toMatch(/^Commands:/)
  })
})

describe('grouping, escalation, inhibition, silences', () => {
  it('one SMS per group window covering several fields; the next finding waits for group_interval', async () => {
    const t0 = wib(2026, 7, 2, 9)
    r = await rig(
      { ...instant(only('dry', 'waterlogged')), groupWaitMs: 2 * MIN, groupIntervalMs: 30 * MIN },
      { startMs: t0 },
    )
    await seed(r)
    at(r, t0, reading('soil-1', 'soil_moisture', 18, t0))
    at(r, t0 + MIN, reading('soil-2', 'soil_moisture', 19, t0 + MIN))
    expect(r.outbox.messages).toHaveLength(0) // group_wait
    at(r, t0 + 2 * MIN)
    // Bu Sri (both fields): one SMS naming both; Pak Budi (SAWAH1 only): the full template.
    const sri = r.outbox.to(PHONE_B)
    expect(sri).toHaveLength(1)
    expect(sri[0]!.text).toMatch(/^SAWAH1 kering 18 \(#\d+\); SAWAH2 kering 19 \(#\d+\)\. Balas OK <no>$/)
    expect(r.outbox.to(PHONE_A)).toHaveLength(1)
    // A new finding 5 min later waits until 30 min after the last SMS.
    at(r, t0 + 5 * MIN, reading('soil-2', 'soil_moisture', 45, t0 + 5 * MIN))
    at(r, t0 + 20 * MIN)
    expect(r.outbox.to(PHONE_B)).toHaveLength(1)
    at(r, t0 + 32 * MIN)
    const second = r.outbox.to(PHONE_B)
    expect(second).toHaveLength(2)
    // SAWAH2 went from dry (resolved) to waterlogged: both in one message.
    expect(second[1]!.text).toMatch(/SAWAH2 tergenang 45 \(#\d+\); SAWAH2 kering selesai \(#\d+\)/)
  })

  it('a critical alert unacknowledged for escalateAfterMs goes to the village officer, once', async () => {
    const t0 = wib(2026, 7, 2, 9)
    r = await rig({ ...only('heavyRain'), groupWaitMs: 0, escalateAfterMs: 60 * MIN }, { startMs: t0 })
    await seed(r)
    at(r, t0, reading('wx-1', 'rainfall', 70, t0))
    expect(r.outbox.to(PHONE_A)[0]!.text).toMatch(/^SAWAH1: hujan lebat 70 mm/)
    at(r, t0 + 59 * MIN)
    expect(r.outbox.to(PHONE_OFFICER)).toHaveLength(0)
    at(r, t0 + 61 * MIN)
    const esc = r.outbox.to(PHONE_OFFICER)
    // Two fields, two alerts (one per field) → two escalations, each once.
    expect(esc).toHaveLength(2)
    expect(esc[0]!.text).toMatch(/^PETUGAS #\d+ blm dibalas 61 mnt: SAWAH\d: hujan lebat/)
    expect(esc[0]!.critical).toBe(true)
    at(r, t0 + 3 * HOUR)
    expect(r.outbox.to(PHONE_OFFICER)).toHaveLength(2)
    // The 24 h window passes: resolved by time alone (all clear to the farmers).
    at(r, t0 + DAY + MIN)
    expect(r.engine.listAlerts({ state: 'firing' })).toHaveLength(0)
    expect(r.outbox.to(PHONE_A).at(-1)!.text).toMatch(/^SAWAH1 aman lagi: hujan lebat selesai/)
    // An acknowledged critical alert is not escalated.
    const t1 = t0 + 2 * DAY
    at(r, t1, reading('wx-1', 'rainfall', 80, t1))
    const fresh = r.engine.listAlerts({ state: 'firing' }).filter((a) => a.firedAtMs === t1)
    expect(fresh).toHaveLength(2)
    for (const a of fresh) r.engine.ack(a.id, 'test', t1 + MIN)
    at(r, t1 + 2 * HOUR)
    expect(r.outbox.to(PHONE_OFFICER)).toHaveLength(2)
  })

  it('inhibition: sensor alerts are held while the gateway is offline and sent if still firing after', async () => {
    const t0 = wib(2026, 7, 2, 9)
    r = await rig({ ...only('sensor'), groupWaitMs: 0, groupIntervalMs: 0 }, { startMs: t0 })
    await seed(r)
    r.engine.onDeviceStatus({ device: 'gw-1', village: 'kemiren', state: 'offline', atMs: t0 })
    at(r, t0 + 16 * MIN)
    const gw = r.engine.listAlerts({ state: 'firing' })
    expect(gw.map((a) => a.rule)).toEqual(['gateway_offline'])
    // Officers hear about the gateway (no field).
    expect(r.outbox.to(PHONE_OFFICER)[0]!.text).toMatch(/^Gateway gw-1 desa kemiren mati sejak 09.00/)
    // Meanwhile a battery low reading for SAWAH1's node (30 min): firing, but held.
    for (let m = 20; m <= 60; m += 10)
      at(r, t0 + m * MIN, reading('soil-1', 'battery_voltage', 3.3, t0 + m * MIN))
    expect(
      r.engine
        .listAlerts({ state: 'firing' })
        .map((a) => a.rule)
        .sort(),
    ).toEqual(['battery_low', 'gateway_offline'])
    expect(r.outbox.to(PHONE_A)).toHaveLength(0)
    // Gateway back: the held alert goes out.
    r.engine.onDeviceStatus({ device: 'gw-1', village: 'kemiren', state: 'online', atMs: t0 + 70 * MIN })
    at(r, t0 + 70 * MIN, reading('soil-1', 'battery_voltage', 3.3, t0 + 70 * MIN))
    expect(r.outbox.to(PHONE_A).map((m) => m.text)).toEqual([
      expect.stringMatching(/^SAWAH1: baterai soil-1 lemah \(3,30 V\)\. Ganti\/isi baterai\. Balas OK \d+$/),
    ])
    // A node offline for an hour holds its own other sensor alerts (stuck) but is itself reported.
    at(r, t0 + 3 * HOUR)
    const offline = r.engine.listAlerts({ state: 'firing' }).filter((a) => a.rule === 'device_offline')
    expect(offline.map((a) => a.device).sort()).toEqual(['soil-1'])
    expect(r.outbox.to(PHONE_A).at(-1)!.text).toMatch(/sensor soil-1 tdk kirim data sejak 10.10/)
  })

  it('silences: matching alerts are not sent while silenced; sent after the silence ends if still firing', async () => {
    const t0 = wib(2026, 7, 2, 9)
    r = await rig({ ...instant(only('dry')), groupWaitMs: 0 }, { startMs: t0 })
    await seed(r)
    r.engine.addSilence({
      matchers: { field: 'kemiren-sawah1', rule: 'dry' },
      startsAtMs: t0,
      endsAtMs: t0 + 2 * HOUR,
      createdBy: 'test',
      comment: 'irrigation pump repair',
    })
    at(r, t0, reading('soil-1', 'soil_moisture', 18, t0), reading('soil-2', 'soil_moisture', 18, t0))
    // SAWAH2 is not silenced.
    expect(r.outbox.to(PHONE_A)).toHaveLength(0)
    expect(r.outbox.to(PHONE_B)).toHaveLength(1)
    expect(r.outbox.to(PHONE_B)[0]!.text).toMatch(/^SAWAH2 kering/)
    at(r, t0 + HOUR, reading('soil-1', 'soil_moisture', 18, t0 + HOUR))
    expect(r.outbox.to(PHONE_A)).toHaveLength(0)
    at(r, t0 + 2 * HOUR + MIN, reading('soil-1', 'soil_moisture', 18, t0 + 2 * HOUR + MIN))
    expect(r.outbox.to(PHONE_A)).toHaveLength(1)
    expect(r.outbox.to(PHONE_A)[0]!.text).toMatch(/^SAWAH1 kering/)
  })

  it('an outbox that refuses loses nothing: the SMS waits in SQLite and is handed over at the next tick, once', async () => {
    const t0 = wib(2026, 7, 2, 9)
    r = await rig({ ...instant(only('dry')), groupWaitMs: 0 }, { startMs: t0 })
    await seed(r)
    r.outbox.failing = true
    at(r, t0, reading('soil-1', 'soil_moisture', 18, t0))
    expect(r.outbox.messages).toHaveLength(0)
    at(r, t0 + MIN)
    expect(r.outbox.messages).toHaveLength(0)
    r.outbox.failing = false
    at(r, t0 + 2 * MIN)
    expect(r.outbox.to(PHONE_A)).toHaveLength(1)
    expect(r.outbox.to(PHONE_B)).toHaveLength(1)
    at(r, t0 + 3 * MIN)
    await r.restart()
    expect(r.outbox.messages).toHaveLength(2)
    expect(r.outbox.duplicates).toBe(0)
  })

  it('an alert another process opened on the same file is resolved here: the active-alert index is read again after its commit', async () => {
    const t0 = wib(2026, 7, 2, 9)
    r = await rig({ ...instant(only('dry')), groupWaitMs: 0 }, { startMs: t0 })
    await seed(r)
    const state = (id: number) => r!.engine.getAlert(id)?.state
    // wet here first: this engine has read its (empty) index of active alerts
    at(r, t0, reading('soil-1', 'soil_moisture', 30, t0))
    expect(r.engine.listAlerts()).toEqual([])
    const other = await r.second()
    other.engine.onReadings([reading('soil-1', 'soil_moisture', 18, t0 + MIN)])
    const [opened] = other.engine.listAlerts({ state: 'firing' })
    expect(opened?.rule).toBe('dry')
    // wet again, here: the clear finding must reach the alert the other process opened
    at(r, t0 + 2 * MIN, reading('soil-1', 'soil_moisture', 30, t0 + 2 * MIN))
    expect(state(opened!.id)).toBe('resolved')
    // and one this process opened and resolves itself
    at(r, t0 + 3 * MIN, reading('soil-1', 'soil_moisture', 18, t0 + 3 * MIN))
    const [mine] = r.engine.listAlerts({ state: 'firing' })
    expect(mine?.id).toBeGreaterThan(opened!.id)
    at(r, t0 + 4 * MIN, reading('soil-1', 'soil_moisture', 30, t0 + 4 * MIN))
    expect(state(mine!.id)).toBe('resolved')
  })
})
