import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { boardDriver } from '../../firmware-sim/board-driver.ts'
import type { SimNodeSpec, SimVillage } from '../../firmware-sim/district.ts'
import { Fleet, provisionDistrict } from '../../firmware-sim/fleet.ts'
import { PaddyModel, SimNode, WeatherModel } from '../../firmware-sim/models/index.ts'
import { startApp, type TestApp, waitFor } from '../harness/app.ts'

const HOUR = 3_600_000
const DAY = 24 * HOUR
const WIB = 7 * HOUR

/**
 * Simulated paddies (firmware-sim/models/paddy.ts) through the simulator's own path: the model →
 * johnny-five soil firmware with its AWD tube transducer on a mock Firmata board → village gateway
 * → broker → ingest → alerts engine → SMS outbox. Nine simulated days of a forced dry spell, three
 * paddies at different points of a 115-day season (flowering on day 85, drain-down from day 101):
 *   awd      days 30–39, the farmer re-floods as soon as the tube reads −15 cm (safe AWD);
 *   drain    days 103–112, drained for harvest: the water table falls to the tube's bottom;
 *   flower   days 68–77, the farmer is away: the level falls below −15 cm a week before flowering.
 * Only the last may get a water SMS.
 */
describe('simulated paddies through the real broker and pipeline', () => {
  let t: TestApp
  // Local midnight 10 days ago; the run ends an hour ago (the ingest refuses the future).
  const startMs = Math.floor((Date.now() + WIB) / DAY) * DAY - WIB - 10 * DAY
  const endMs = startMs + 9 * DAY
  const village = 'glagah'
  const cases = {
    awd: { firstDay: 30, initialCm: -5, refloodDelayH: [0, 0] as const },
    drain: { firstDay: 103, initialCm: 0, refloodDelayH: [0, 0] as const },
    flower: { firstDay: 68, initialCm: 0, refloodDelayH: [10_000, 10_000] as const },
  }
  type Case = keyof typeof cases
  const models = {} as Record<Case, PaddyModel>
  const levels = { awd: [], drain: [], flower: [] } as Record<Case, number[]>
  const phone = (c: Case) => `+6281200077${Object.keys(cases).indexOf(c)}`
  const device = (c: Case) => `${village}-padi-${c}`
  const smsOf = (c: Case) => t.app.notify!.outbox.list({ to: phone(c) }).map((r) => r.text)
  /** A water / dry SMS: "kering" (dry, or dry at flowering) or "air sawah" (AWD). */
  const waterSms = (c: Case) => smsOf(c).filter((s) => /kering|air sawah/.test(s))

  beforeAll(async () => {
    t = await startApp({
      alerts: {
        tickIntervalMs: 200,
        groupWaitMs: 0,
        groupIntervalMs: 0,
        quietHours: { start: '00:00', end: '00:00' },
        rules: { sensorHealth: { enabled: false }, moistureDrop: { enabled: false } },
      },
    })
    const weather = new WeatherModel({ seed: 13 })
    weather.forceDrySpell(startMs - DAY, endMs + DAY)
    const nodes: SimNodeSpec[] = []
    for (const [i, [c, o]] of (Object.entries(cases) as Array<[Case, (typeof cases)[Case]]>).entries()) {
      const plantedAtMs = startMs - o.firstDay * DAY
      models[c] = new PaddyModel({
        weather,
        plantedAtMs,
        seasonDays: 115,
        startMs,
        initialCm: o.initialCm,
        refloodDelayH: o.refloodDelayH,
        seed: 100 + i,
      })
      // Keep the true level of every report (the model's state, before the board and noise).
      const model = models[c]
      const recorded = {
        get nowMs() {
          return model.nowMs
        },
        step(toMs: number) {
          const r = model.step(toMs)
          levels[c].push(model.water.state(toMs).levelCm)
          return r
        },
      }
      nodes.push({
        id: device(c),
        village,
        kind: 'soil',
        format: 'json',
        subject: 'rice',
        latDeg: -8.22,
        lonDeg: 114.33,
        node: new SimNode({ model: recorded, seed: 200 + i }),
      })
    }
    const villages: SimVillage[] = [
      { id: village, name: 'Glagah', gatewayId: `${village}-gw`, weather, nodes },
    ]
    const secrets = await provisionDistrict(t.app.registry, villages)
    const alerts = t.app.alerts!
    for (const [c, o] of Object.entries(cases) as Array<[Case, (typeof cases)[Case]]>) {
      alerts.directory.addField({
        id: `padi-${c}`,
        village,
        name: `SAWAH-${c.toUpperCase()}`,
        crop: 'rice',
        seasonDays: 115,
        plantedAtMs: startMs - o.firstDay * DAY,
        areaHa: 0.2,
        devices: [device(c)],
        soil: { texture: 'clay' },
      })
      alerts.directory.addFarmer({ id: `petani-${c}`, name: 'Petani', phone: phone(c), village })
      alerts.directory.subscribe(`petani-${c}`, `padi-${c}`)
    }
    const driver = boardDriver(30 * 60_000)
    const fleet = new Fleet({
      driver,
      villages,
      url: `mqtt://127.0.0.1:${t.mqttPort}`,
      dataDir: t.dataDir,
      secrets,
      reportIntervalMs: 30 * 60_000,
      startMs,
      endMs,
      speed: 2_000_000,
      tickMs: 20,
      gateway: { maxMessagesPerSec: 500, healthIntervalMs: 1000 },
    })
    await fleet.start()
    await fleet.done
    await fleet.stop()
    driver.stop()
  }, 120_000)

  afterAll(async () => {
    await t?.stop()
  })

  it('the AWD tube’s water_level arrives from the board, as the model has it', async () => {
    const alerts = t.app.alerts!
    // every paddy's last report (the gateway forwards the nodes' reports in no fixed order)
    await waitFor('the last reports', () =>
      (Object.keys(cases) as Case[]).every((c) => alerts.latest(device(c), 'water_level')?.timeMs === endMs),
    )
    for (const c of Object.keys(cases) as Case[]) {
      const last = alerts.latest(device(c), 'water_level')!
      const truth = models[c].water.state(endMs).levelCm
      // Board ADC (60 cm over ~820 counts: 0.07 cm) and sensor noise (σ 0.3 cm).
      expect(Math.abs(last.value - truth), c).toBeLessThan(1.5)
    }
    const stored = await t.app.store.query({
      quantity: 'water_level',
      device: device('drain'),
      fromMs: startMs,
      toMs: endMs + 1,
    })
    expect(stored.length).toBe(9 * 48 + 1)
    expect(stored[0]).toMatchObject({ village, device: device('drain'), sensor: 'main' })
  })

  it('AWD between irrigations and the drain-down send no water SMS; a fall below −15 cm before flowering sends one', async () => {
    // The physics did what each case is about.
    expect(Math.min(...levels.awd)).toBeLessThan(-13)
    expect(models.awd.water.state(endMs).irrigations).toBeGreaterThanOrEqual(1)
    expect(Math.min(...levels.drain)).toBeLessThan(-30)
    expect(Math.min(...levels.flower)).toBeLessThan(-20)

    await waitFor('the pre-flowering SMS', () => waterSms('flower').length === 1)
    await new Promise((r) => setTimeout(r, 1000)) // ticks every 200 ms: time for a wrong SMS to show
    expect(waterSms('awd')).toEqual([])
    expect(waterSms('drain')).toEqual([])
    const alerts = t.app.alerts!
    for (const c of ['awd', 'drain'] as const)
      expect(
        alerts.listAlerts({ field: `padi-${c}` }).filter((a) => a.rule === 'dry' || a.rule === 'water_low'),
      ).toEqual([])
    const [sms] = waterSms('flower')
    expect(sms).toMatch(
      /^SAWAH-FLOWER: air sawah \d+(,\d)? cm di bawah tanah \(batas 15 cm\)\. Airi sawah sampai tergenang ~5 cm\. Balas OK \d+$/,
    )
    const fired = alerts.listAlerts({ field: 'padi-flower' }).filter((a) => a.rule === 'water_low')
    expect(fired).toHaveLength(1)
    expect(fired[0]).toMatchObject({ severity: 'warning', threshold: -15 })
    // It fired more than a week before flowering (day 85), before the flooded window (day 78).
    const firedDay = (fired[0]!.firedAtMs! - (startMs - cases.flower.firstDay * DAY)) / DAY
    expect(firedDay).toBeGreaterThan(cases.flower.firstDay)
    expect(firedDay).toBeLessThan(78)
  })
})
