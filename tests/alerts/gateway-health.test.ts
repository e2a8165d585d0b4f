import Database from 'better-sqlite3'
import { afterEach, describe, expect, it } from 'vitest'
import { feedsGatewayHealth } from '../../src/alerts/index.ts'
import { MIN, only, type Rig, rig, seed, wib } from './helpers.ts'

let r: Rig | undefined
afterEach(async () => {
  await r?.stop()
  r = undefined
})

const gatewayAlerts = (rg: Rig) => rg.engine.listAlerts().filter((a) => a.rule === 'gateway_offline')

/**
 * One rule decides which statuses feed gateway health, in the engine's status entry point, so the
 * all-in-one role (embedded broker) and the state role (MQTT subscription) cannot differ.
 * Both roles on real brokers: tests/scale/gateway-health.test.ts.
 */
describe('gateway health: only devices of kind gateway', () => {
  it('the rule: a registered gateway of the village its topic names', () => {
    const gw = { id: 'gw-1', village: 'kemiren', kind: 'gateway', format: 'json', createdAtMs: 0 } as const
    expect(feedsGatewayHealth(gw, 'kemiren')).toBe(true)
    expect(feedsGatewayHealth(gw, 'licin')).toBe(false)
    expect(feedsGatewayHealth({ ...gw, kind: 'soil' }, 'kemiren')).toBe(false)
    expect(feedsGatewayHealth({ ...gw, kind: 'service' }, 'kemiren')).toBe(false)
    expect(feedsGatewayHealth(undefined, 'kemiren')).toBe(false)
  })

  it('a soil node, weather station or unknown device offline raises nothing; the gateway does', async () => {
    const t0 = wib(2026, 7, 2, 9)
    r = await rig({ ...only('sensor'), groupWaitMs: 0 }, { startMs: t0 })
    await seed(r)
    for (const device of ['soil-1', 'wx-1', 'nobody'])
      r.engine.onDeviceStatus({ device, village: 'kemiren', state: 'offline', atMs: t0 })
    // the gateway's id under another village's topic is not that village's gateway
    r.engine.onDeviceStatus({ device: 'gw-1', village: 'licin', state: 'offline', atMs: t0 })
    r.clock.now = t0 + 20 * MIN
    r.engine.tick(r.clock.now)
    expect(gatewayAlerts(r)).toEqual([])

    r.engine.onDeviceStatus({ device: 'gw-1', village: 'kemiren', state: 'offline', atMs: t0 + 20 * MIN })
    r.clock.now = t0 + 40 * MIN
    r.engine.tick(r.clock.now)
    expect(gatewayAlerts(r).map((a) => [a.device, a.state])).toEqual([['gw-1', 'firing']])
  })

  it("a node's offline status recorded before the rule held everywhere is forgotten, and its alert resolved", async () => {
    const t0 = wib(2026, 7, 2, 9)
    r = await rig({ ...only('sensor'), groupWaitMs: 0 }, { startMs: t0 })
    await seed(r)
    // what the state role wrote before: soil-1's status, and the gateway_offline it raised
    const db = new Database(`${r.dir}/registry.db`)
    db.prepare(
      `INSERT INTO device_seen (device, village, last_ms, status, status_at_ms) VALUES ('soil-1', 'kemiren', 0, 'offline', ?)`,
    ).run(t0)
    db.close()
    r.engine.apply({
      rule: 'gateway_offline',
      subject: 'device:soil-1',
      category: 'sensor',
      village: 'kemiren',
      device: 'soil-1',
      severity: 'warning',
      active: true,
      clear: false,
      atMs: t0,
      forMs: 0,
    })
    expect(gatewayAlerts(r).map((a) => a.state)).toEqual(['firing'])
    r.clock.now = t0 + 20 * MIN
    r.engine.tick(r.clock.now)
    expect(gatewayAlerts(r).map((a) => [a.device, a.state])).toEqual([['soil-1', 'resolved']])
    r.clock.now = t0 + 40 * MIN
    r.engine.tick(r.clock.now)
    expect(gatewayAlerts(r).map((a) => a.state)).toEqual(['resolved'])
  })
})
