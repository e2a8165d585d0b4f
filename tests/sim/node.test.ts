import five from 'johnny-five'
import { describe, expect, it } from 'vitest'
import { BME280_ADDRESS } from '../../firmware-sim/node/bme280.ts'
import { adcToStemUm, adcToVwcPct, vwcPctToAdc } from '../../firmware-sim/node/calibration.ts'
import { DendrometerNode, SoilNode, type WeatherStation } from '../../firmware-sim/node/firmware.ts'
import { createMockBoard } from '../../firmware-sim/node/mock-board.ts'
import { createSimNode, type Environment, SimNodeDriver } from '../../firmware-sim/node/sim-node.ts'

const STEP_MS = 10 * 60_000
const DAY_STEPS = (24 * 3_600_000) / STEP_MS

async function soilOnMock(environment: (t: number) => Environment) {
  const sim = await createMockBoard()
  const firmware = new SoilNode(sim.board, { deviceId: 'soil-01' })
  const driver = new SimNodeDriver({ firmware, sim, environment })
  await driver.start()
  return { sim, firmware, driver }
}

describe('node firmware on mock Firmata', () => {
  it('a soil node reads its probe through johnny-five Sensor data events', async () => {
    let vwc = 31.4
    const { sim, firmware, driver } = await soilOnMock(() => ({ soil_moisture: vwc, soil_temperature: 26.5 }))

    // johnny-five (not the firmware) registered the analog reads, and the component is a five.Sensor.
    expect(sim.pins.registered().analog.sort()).toEqual([0, 1, 2])
    const sensor = firmware.components.moisture
    expect(sensor).toBeInstanceOf(five.Sensor)
    const emitted: number[] = []
    sensor!.on('data', (adc: number) => emitted.push(adc))

    const r1 = driver.step(STEP_MS)
    expect(emitted).toEqual([vwcPctToAdc(31.4)])
    expect(r1.reading.values.soil_moisture).toBeCloseTo(adcToVwcPct(vwcPctToAdc(31.4)), 1)
    expect(Math.abs(r1.reading.values.soil_moisture! - 31.4)).toBeLessThan(0.15) // 0.13 %VWC per count
    expect(r1.reading.values.soil_temperature).toBeCloseTo(26.5, 0)

    // A value set on the pin reaches the report only after johnny-five's sampling tick emitted it.
    sim.pins.setAnalog(0, 625)
    expect(firmware.report().values.soil_moisture).toBe(r1.reading.values.soil_moisture)
    sim.timers.advance(firmware.sampleFreqMs)
    expect(emitted.at(-1)).toBe(625)
    expect(firmware.report().values.soil_moisture).toBe(25) // (820 − 625) / (820 − 430) × 50

    vwc = 12
    const r2 = driver.step(2 * STEP_MS)
    expect(r2.reading.values.soil_moisture).toBeCloseTo(12, 0)
    expect(r2.timeMs).toBe(2 * STEP_MS)
  })

  it('a rain gauge counts tipping-bucket pulses into mm, carrying part-filled buckets', async () => {
    const rain = [1.0, 0.3, 0.3, 0, 12.6]
    let i = 0
    const driver = await createSimNode({
      config: { kind: 'weather', deviceId: 'wx-01' },
      environment: () => ({ rain_mm_since_last: rain[i++] ?? 0 }),
    })
    const fw = driver.firmware as WeatherStation
    const mm = (await driver.run({ startMs: 0, steps: 5 })).map((r) => r.reading.values.rainfall)
    expect(mm).toEqual([1, 0.2, 0.4, 0, 12.6])
    // Pulses put straight on the pin are counted by the firmware's edge counter.
    driver.sim.pins.pulse(fw.pins.rain, 7)
    expect(fw.report().values.rainfall).toBe(1.4)
    expect(fw.rain.total).toBe(5 + 1 + 2 + 63 + 7)
  })

  it('a dendrometer maps ADC to µm from its mounting point', async () => {
    const sim = await createMockBoard()
    const fw = new DendrometerNode(sim.board, {
      deviceId: 'tree-01',
      dendrometer: { baseDiameterUm: 30_000 },
    })
    const driver = new SimNodeDriver({ firmware: fw, sim, environment: () => ({ stem_diameter: 30_250 }) })
    await driver.start()
    const r = driver.step(STEP_MS).reading.values.stem_diameter!
    expect(Math.abs(r - 30_250)).toBeLessThanOrEqual(2.5) // 4.9 µm per count
    sim.pins.setAnalog(0, 102 + 100)
    sim.timers.advance(fw.sampleFreqMs)
    expect(fw.report().values.stem_diameter).toBeCloseTo(adcToStemUm(202, fw.dendrometerCal), 1)
    expect(fw.report().values.stem_diameter).toBeCloseTo(30_000 + (100 * 5000) / 1023, 1)
  })

  it('a weather station reports every quantity, the BME280 ones through johnny-five Multi over I2C', async () => {
    const env: Environment = {
      air_temperature: 31.37,
      relative_humidity: 66.6,
      pressure: 1008.4,
      rain_mm_since_last: 0.4,
      wind_speed: 3.2,
      solar_radiation: 812,
      battery_voltage: 3.85,
    }
    const driver = await createSimNode({
      config: { kind: 'weather', deviceId: 'wx-02' },
      environment: () => env,
    })
    expect(driver.sim.pins.registered().i2cContinuous).toEqual([BME280_ADDRESS])
    expect(driver.firmware.components.multi).toBeInstanceOf(five.Multi)
    const v = driver.step(STEP_MS).reading.values
    expect(Object.keys(v).sort()).toEqual(
      [
        'air_temperature',
        'relative_humidity',
        'pressure',
        'rainfall',
        'wind_speed',
        'solar_radiation',
        'battery_voltage',
      ].sort(),
    )
    expect(v.air_temperature).toBeCloseTo(31.37, 2)
    expect(v.relative_humidity).toBeCloseTo(66.6, 2)
    expect(v.pressure).toBeCloseTo(1008.4, 1)
    expect(v.rainfall).toBe(0.4)
    expect(v.wind_speed).toBeCloseTo(3.2, 2)
    expect(Math.abs(v.solar_radiation! - 812)).toBeLessThan(2)
    expect(v.battery_voltage).toBeCloseTo(3.85, 1)

    // Changing the environment changes the reports.
    Object.assign(env, { air_temperature: 24.05, relative_humidity: 95, pressure: 1001, solar_radiation: 0 })
    const w = driver.step(2 * STEP_MS).reading.values
    expect(w.air_temperature).toBeCloseTo(24.05, 2)
    expect(w.relative_humidity).toBeCloseTo(95, 2)
    expect(w.pressure).toBeCloseTo(1001, 1)
    expect(w.solar_radiation).toBe(0)
  })

  it('stamps reports with the node clock: right, skewed, or none', async () => {
    const env = () => ({ soil_moisture: 20 })
    const skewed = await createSimNode({
      config: { kind: 'soil', deviceId: 's-skew' },
      environment: env,
      clock: { skewMs: -90_000 },
    })
    const none = await createSimNode({
      config: { kind: 'soil', deviceId: 's-none' },
      environment: env,
      clock: 'none',
    })
    expect(skewed.step(STEP_MS).timeMs).toBe(STEP_MS - 90_000)
    const r = none.step(STEP_MS)
    expect(r.timeMs).toBeUndefined()
    expect(r.simTimeMs).toBe(STEP_MS)
  })

  it('runs a simulated day for three nodes in accelerated time', async () => {
    const day = (t: number) => {
      const h = (t / 3_600_000) % 24
      const sun = Math.max(0, Math.sin(((h - 6) / 12) * Math.PI))
      return {
        soil_moisture: 35 - t / 3_600_000 / 10,
        soil_temperature: 26 + 3 * sun,
        air_temperature: 24 + 8 * sun,
        relative_humidity: 95 - 35 * sun,
        pressure: 1009,
        rain_mm_since_last: h >= 15 && h < 16 ? 2 : 0,
        wind_speed: 1 + 3 * sun,
        solar_radiation: 1000 * sun,
        stem_diameter: 25_000 + 10 * (t / 3_600_000) - 40 * sun,
        battery_voltage: 3.9,
      }
    }
    const nodes = await Promise.all([
      createSimNode({ config: { kind: 'soil', deviceId: 'soil-a' }, environment: day }),
      createSimNode({ config: { kind: 'weather', deviceId: 'wx-a' }, environment: day }),
      createSimNode({
        config: { kind: 'dendrometer', deviceId: 'tree-a', dendrometer: { baseDiameterUm: 25_000 } },
        environment: day,
      }),
    ])
    const t0 = performance.now()
    const runs = await Promise.all(nodes.map((n) => n.run({ startMs: 0, steps: DAY_STEPS })))
    const ms = performance.now() - t0
    console.log(`1 simulated day, 3 nodes × ${DAY_STEPS} steps: ${ms.toFixed(0)} ms`)
    expect(ms).toBeLessThan(2_000)
    for (const run of runs) expect(run).toHaveLength(DAY_STEPS)
    const [soil, wx, tree] = runs
    expect(soil!.at(-1)!.reading.values.soil_moisture!).toBeLessThan(soil![0]!.reading.values.soil_moisture!)
    const rain = wx!.reduce((s, r) => s + (r.reading.values.rainfall ?? 0), 0)
    expect(rain).toBeCloseTo(12, 5) // six 10-minute steps of 2 mm between 15:00 and 16:00
    const noon = tree![DAY_STEPS / 2 - 1]!.reading.values.stem_diameter!
    const dawn = tree![DAY_STEPS / 4 - 1]!.reading.values.stem_diameter!
    expect(noon).toBeLessThan(dawn + 60) // shrinks by day against 10 µm/h growth
    for (const n of nodes) n.stop()
  })
})
