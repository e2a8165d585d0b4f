import { describe, expect, it } from 'vitest'
import { boardDriver } from '../../firmware-sim/board-driver.ts'
import { buildDistrict } from '../../firmware-sim/district.ts'
import { REMEMBERED_COMMANDS, type SoilNode, type WeatherStation } from '../../firmware-sim/node/firmware.ts'
import { createSimNode } from '../../firmware-sim/node/sim-node.ts'

/** The node firmware's side of issue 17: commands from the down topic, answered for the ack topic. */
const cmd = (id: string, kind: string, params: Record<string, unknown> = {}) =>
  JSON.stringify({ id, kind, params, expiresAtMs: Date.now() + 60_000 })

const soilNode = () =>
  createSimNode({
    config: { kind: 'soil', deviceId: 'sawah-t', intervalMs: 60_000 },
    environment: () => ({ soil_moisture: 25, soil_temperature: 27, battery_voltage: 4 }),
  })

describe('node firmware commands', () => {
  it('set_config changes the report interval; a repeated id is answered, not done again', async () => {
    const node = await soilNode()
    const fw = node.firmware
    // The answer to a set_config carries the configuration applied (version 0: not a versioned one).
    expect(fw.handleCommand(cmd('c1', 'set_config', { reportIntervalS: 300 }))).toEqual({
      id: 'c1',
      ok: true,
      config: { version: 0, reportIntervalS: 300 },
    })
    expect(fw.intervalMs).toBe(300_000)
    expect(fw.handleCommand(cmd('c2', 'set_config', { reportIntervalS: 120 }))).toEqual({
      id: 'c2',
      ok: true,
      config: { version: 0, reportIntervalS: 120 },
    })
    // c1 again (a QoS 1 redelivery, or the service resending after a lost ack): same answer, no effect
    expect(fw.handleCommand(cmd('c1', 'set_config', { reportIntervalS: 300 }))).toEqual({
      id: 'c1',
      ok: true,
      config: { version: 0, reportIntervalS: 300 },
    })
    expect(fw.intervalMs).toBe(120_000)
    expect(fw.executed).toBe(2)
    node.stop()
  })

  it('a versioned set_config is the whole configuration; an older version is never applied after a newer one', async () => {
    const node = await soilNode()
    const fw = node.firmware
    expect(
      fw.handleCommand(cmd('v2', 'set_config', { version: 2, reportIntervalS: 600, dryThresholdPct: 20 })),
    ).toEqual({ id: 'v2', ok: true, config: { version: 2, reportIntervalS: 600, dryThresholdPct: 20 } })
    expect(fw.intervalMs).toBe(600_000)
    // Version 1, delivered late (it was sent before version 2 superseded it): refused, nothing changes.
    expect(fw.handleCommand(cmd('v1', 'set_config', { version: 1, reportIntervalS: 5 }))).toEqual({
      id: 'v1',
      ok: false,
      error: 'superseded: version 2 is applied',
      config: { version: 2, reportIntervalS: 600, dryThresholdPct: 20 },
    })
    expect(fw.intervalMs).toBe(600_000)
    expect(fw.configVersion).toBe(2)
    // Version 3 leaves the interval and the threshold out: back to the node's default, rule off.
    expect(fw.handleCommand(cmd('v3', 'set_config', { version: 3, irrigateS: 60 }))).toEqual({
      id: 'v3',
      ok: true,
      config: { version: 3, reportIntervalS: 60, irrigateS: 60 },
    })
    expect(fw.intervalMs).toBe(60_000)
    expect(fw.dryThresholdPct).toBeUndefined()
    node.stop()
  })

  it('the local dry rule opens the valve by itself under its threshold; a node without a valve refuses it', async () => {
    let moisture = 25
    const node = await createSimNode({
      config: { kind: 'soil', deviceId: 'sawah-dry', intervalMs: 60_000 },
      environment: () => ({ soil_moisture: moisture, soil_temperature: 27, battery_voltage: 4 }),
    })
    const fw = node.firmware as SoilNode
    fw.handleCommand(cmd('d1', 'set_config', { version: 1, dryThresholdPct: 20, irrigateS: 1 }))
    node.step(Date.now())
    expect(fw.valveOpen).toBe(false) // 25 % is not dry under a 20 % threshold
    moisture = 12
    node.step(Date.now() + 60_000)
    expect(fw.valveOpen).toBe(true)
    expect(fw.localIrrigations).toBe(1)
    await new Promise((r) => setTimeout(r, 1_300))
    expect(fw.valveOpen).toBe(false) // closed by itself after irrigateS
    node.stop()

    const wx = await createSimNode({
      config: { kind: 'weather', deviceId: 'wx-dry', intervalMs: 60_000 },
      environment: () => ({ air_temperature: 27, relative_humidity: 80, pressure: 1010, battery_voltage: 4 }),
    })
    expect(wx.firmware.handleCommand(cmd('w1', 'set_config', { version: 1, dryThresholdPct: 20 }))).toEqual({
      id: 'w1',
      ok: false,
      error: 'no valve on this node (dryThresholdPct)',
      config: { version: 0, reportIntervalS: 60 },
    })
    wx.stop()
  })

  it('drives the valve relay on its pin and closes it by itself after maxDurationS', async () => {
    const node = await soilNode()
    const fw = node.firmware as SoilNode
    expect(fw.valve).toBeDefined()
    expect(fw.handleCommand(cmd('v1', 'valve_open', { maxDurationS: 1 }))).toEqual({ id: 'v1', ok: true })
    expect(fw.valveOpen).toBe(true)
    expect(node.sim.pins.output(7)).toBe(1)
    // No close command ever comes: the firmware's own timer closes it.
    await new Promise((r) => setTimeout(r, 1_300))
    expect(fw.valveOpen).toBe(false)
    expect(node.sim.pins.output(7)).toBe(0)
    // v1 again must not reopen it
    fw.handleCommand(cmd('v1', 'valve_open', { maxDurationS: 1 }))
    expect(fw.valveOpen).toBe(false)
    fw.handleCommand(cmd('v2', 'valve_open', { maxDurationS: 60 }))
    expect(fw.valveOpen).toBe(true)
    expect(fw.handleCommand(cmd('v3', 'valve_close'))).toEqual({ id: 'v3', ok: true })
    expect(node.sim.pins.output(7)).toBe(0)
    // an opening that arrives after its expiry (a late redelivery) is refused: no water nobody asked for
    const late = JSON.stringify({
      id: 'v4',
      kind: 'valve_open',
      params: { maxDurationS: 60 },
      expiresAtMs: Date.now() - 90_000,
    })
    expect(fw.handleCommand(late)).toEqual({
      id: 'v4',
      ok: false,
      error: expect.stringMatching(/^expired 9\d s ago: not opened$/),
    })
    expect(fw.valveOpen).toBe(false)
    expect(node.sim.pins.output(7)).toBe(0)
    node.stop()
  })

  it('refuses what it cannot do, with a reason, and forgets only the oldest ids', async () => {
    const node = await createSimNode({
      config: { kind: 'weather', deviceId: 'wx-t', intervalMs: 60_000 },
      environment: () => ({ air_temperature: 27, relative_humidity: 80, pressure: 1010, battery_voltage: 4 }),
    })
    const fw = node.firmware as WeatherStation
    expect(fw.handleCommand(cmd('w1', 'valve_open', { maxDurationS: 5 }))).toEqual({
      id: 'w1',
      ok: false,
      error: 'no valve on this node',
    })
    expect(fw.handleCommand(cmd('w2', 'set_config', { reportIntervalS: 0 }))).toMatchObject({
      id: 'w2',
      ok: false,
    })
    expect(fw.handleCommand('not json')).toBeUndefined()
    for (let i = 0; i < REMEMBERED_COMMANDS + 1; i++) fw.handleCommand(cmd(`r${i}`, 'reboot'))
    expect(fw.reboots).toBe(REMEMBERED_COMMANDS + 1)
    fw.handleCommand(cmd(`r${REMEMBERED_COMMANDS}`, 'reboot')) // remembered: not again
    expect(fw.reboots).toBe(REMEMBERED_COMMANDS + 1)
    node.stop()
  })

  it('the water a valve lets through reaches the field: its moisture rises against an identical field', async () => {
    const startMs = Date.UTC(2026, 7, 1) // dry season
    const field = () => {
      const [village] = buildDistrict({
        seed: 3,
        villages: 1,
        fieldsPerVillage: 2,
        treesPerVillage: 0,
        startMs,
      })
      // The maize field (sawah2): a paddy's irrigation stands as water above saturated soil.
      return village!.nodes.filter((n) => n.kind === 'soil')[1]!
    }
    const step = 600_000
    // 1 200 mm/min so that a 1 s opening (≈ 20 mm) shows in a test; the default is 0.5 mm/min.
    const watered = boardDriver(step, { valveFlowMmPerMin: 1_200 })
    const control = boardDriver(step)
    const a = field()
    const b = field()
    const a1 = await watered(a, startMs + step)
    const b1 = await control(b, startMs + step)
    expect(a1!.values.soil_moisture).toBe(b1!.values.soil_moisture)
    const fw = watered.firmwareOf(a.id)!
    expect(fw.handleCommand(cmd('w1', 'valve_open', { maxDurationS: 1 }))).toEqual({ id: 'w1', ok: true })
    await new Promise((r) => setTimeout(r, 1_300)) // closes by itself; the water goes in
    expect(fw.valveOpen).toBe(false)
    const a2 = await watered(a, startMs + 2 * step)
    const b2 = await control(b, startMs + 2 * step)
    expect(a2!.values.soil_moisture! - b2!.values.soil_moisture!).toBeGreaterThan(3)
    watered.stop()
    control.stop()
  })
})
