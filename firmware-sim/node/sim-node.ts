import type { NodeReading } from '../../gateway/index.ts'
import { Bme280Device } from './bme280.ts'
import {
  batteryVToAdc,
  stemUmToAdc,
  thermistorCToAdc,
  vwcPctToAdc,
  waterLevelCmToAdc,
  windMsToPulses,
  wm2ToAdc,
} from './calibration.ts'
import {
  type AnalogPin,
  type AnyNodeConfig,
  createFirmware,
  DendrometerNode,
  type NodeFirmware,
  type NodeReport,
  SoilNode,
  WeatherStation,
} from './firmware.ts'
import { createMockBoard, type SimulatedBoard } from './mock-board.ts'

/**
 * Couples a node's firmware to its simulated board: physical truth from `environment(t)` becomes
 * raw pin signals (the inverse calibrations), johnny-five delivers them to the firmware through its
 * components' events, and the firmware's report is collected with the simulated time.
 */

/** Physical truth at one time, in canonical units (src/telemetry/quantities.ts). */
export interface Environment {
  soil_moisture?: number
  soil_temperature?: number
  air_temperature?: number
  relative_humidity?: number
  /** hPa */
  pressure?: number
  /** Rain that fell since the previous step, mm. */
  rain_mm_since_last?: number
  /** Mean over the step, m/s. */
  wind_speed?: number
  solar_radiation?: number
  /** µm */
  stem_diameter?: number
  /** cm relative to the soil surface (a paddy's AWD tube) */
  water_level?: number
  battery_voltage?: number
}
export type EnvironmentFn = (timeMs: number) => Environment

/** The node's clock: right, absent (readings carry no time), or off by `skewMs`. */
export type ClockMode = 'ok' | 'none' | { skewMs: number }

/** A report as the node sends it: `timeMs` is the node's own time, absent without a clock. */
export interface TimedReport {
  deviceId: string
  /** The simulated instant the step was taken at (truth, for tests; not sent). */
  simTimeMs: number
  timeMs?: number
  reading: NodeReading & NodeReport
}

export interface SimNodeDriverOptions {
  firmware: NodeFirmware
  sim: SimulatedBoard
  environment: EnvironmentFn
  clock?: ClockMode
  /** Real time to wait at most for every component's first value (the BME280 driver waits 1 s). */
  warmupTimeoutMs?: number
}

export const defaultDriverOptions = {
  clock: 'ok' as ClockMode,
  // johnny-five's BME280 driver drops readings for 1 s of wall time after configuring the chip.
  warmupTimeoutMs: 3_000,
  warmupPollMs: 25,
  // Accelerated runs yield to the event loop this often so other nodes, the gateway and I/O run.
  yieldEverySteps: 50,
}

/** What the pins read while the components start (no pulses); replaced by the first step. */
const WARMUP_ENV = {
  soil_moisture: 30,
  water_level: 0,
  soil_temperature: 27,
  air_temperature: 27,
  relative_humidity: 80,
  pressure: 1010,
  rain_mm_since_last: 0,
  wind_speed: 0,
  solar_radiation: 0,
  battery_voltage: 4,
} satisfies Environment

export function analogChannel(pin: AnalogPin | number): number {
  return typeof pin === 'number' ? pin : Number(pin.slice(1))
}

export class SimNodeDriver {
  readonly firmware: NodeFirmware
  readonly sim: SimulatedBoard
  private readonly environment: EnvironmentFn
  private readonly clock: ClockMode
  private readonly warmupTimeoutMs: number
  private bme: Bme280Device | undefined
  /** Fractions of a bucket tip / anemometer turn carried to the next step (they are physical). */
  private rainCarryTips = 0
  private windCarryPulses = 0
  private started = false
  private pacer: NodeJS.Timeout | undefined

  constructor(opts: SimNodeDriverOptions) {
    this.firmware = opts.firmware
    this.sim = opts.sim
    this.environment = opts.environment
    this.clock = opts.clock ?? defaultDriverOptions.clock
    this.warmupTimeoutMs = opts.warmupTimeoutMs ?? defaultDriverOptions.warmupTimeoutMs
  }

  get deviceId(): string {
    return this.firmware.deviceId
  }

  /** Build the firmware's components on virtual timers and wait until each delivered a value. */
  async start(): Promise<void> {
    if (this.started) return
    const fw = this.firmware
    if (fw instanceof WeatherStation) {
      this.bme = new Bme280Device()
      this.sim.pins.setI2cDevice(fw.bme280Address, this.bme)
    }
    const stem = fw instanceof DendrometerNode ? fw.dendrometerCal.baseDiameterUm : undefined
    this.apply({ ...WARMUP_ENV, stem_diameter: stem }, false)
    this.sim.timers.capture(() => fw.start({ timer: false }))
    const deadline = Date.now() + this.warmupTimeoutMs
    for (;;) {
      this.sim.pins.sample()
      this.sim.timers.advance(fw.sampleFreqMs)
      if (fw.isReady()) break
      if (Date.now() > deadline) throw new Error(`${fw.deviceId}: components gave no data within warm-up`)
      await new Promise((r) => setTimeout(r, defaultDriverOptions.warmupPollMs))
    }
    // Warm-up pulses (none) and values are not a report.
    fw.report()
    this.started = true
  }

  /**
   * One step at simulated time `simTimeMs`: the environment goes onto the pins, johnny-five's
   * components run one sampling tick (their own interval callbacks, on virtual time), and the
   * firmware reports. Synchronous: every event happens inside this call.
   */
  step(simTimeMs: number): TimedReport {
    if (!this.started) throw new Error(`${this.deviceId}: start() the driver first`)
    this.apply(this.environment(simTimeMs), true)
    this.sim.pins.sample()
    this.sim.timers.advance(this.firmware.sampleFreqMs)
    const reading = this.firmware.report()
    const report: TimedReport = { deviceId: this.deviceId, simTimeMs, reading }
    if (this.clock === 'ok') report.timeMs = simTimeMs
    else if (this.clock !== 'none') report.timeMs = simTimeMs + this.clock.skewMs
    return report
  }

  /**
   * Accelerated: `steps` reports, `intervalMs` of simulated time apart from `startMs` (the first
   * report is at startMs + intervalMs, covering the first interval). Yields to the event loop now
   * and then; `onReport` sees each report as it is made.
   */
  async run(opts: {
    startMs: number
    steps: number
    onReport?: (r: TimedReport) => void
  }): Promise<TimedReport[]> {
    const out: TimedReport[] = []
    const every = defaultDriverOptions.yieldEverySteps
    for (let i = 1; i <= opts.steps; i++) {
      const r = this.step(opts.startMs + i * this.firmware.intervalMs)
      out.push(r)
      opts.onReport?.(r)
      if (i % every === 0) await new Promise((resolve) => setImmediate(resolve))
    }
    return out
  }

  /** Paced: one step every intervalMs / speed of real time (speed 1 = real time) until stop(). */
  startPaced(opts: { startMs: number; speed: number; onReport: (r: TimedReport) => void }): void {
    let i = 0
    this.pacer = setInterval(
      () => {
        i++
        opts.onReport(this.step(opts.startMs + i * this.firmware.intervalMs))
      },
      Math.max(1, this.firmware.intervalMs / opts.speed),
    )
  }

  stop(): void {
    if (this.pacer) clearInterval(this.pacer)
    this.pacer = undefined
    this.firmware.stop()
    this.sim.timers.clear()
  }

  /** Truth → raw signals on the pins, through the firmware's own calibrations inverted. */
  private apply(env: Environment, withPulses: boolean): void {
    const fw = this.firmware
    const pins = this.sim.pins
    const battery = (v: number | undefined, pin: AnalogPin) => {
      if (v !== undefined) pins.setAnalog(analogChannel(pin), batteryVToAdc(v, fw.batteryCal))
    }
    if (fw instanceof SoilNode) {
      if (env.soil_moisture !== undefined)
        pins.setAnalog(analogChannel(fw.pins.moisture), vwcPctToAdc(env.soil_moisture, fw.moistureCal))
      if (env.soil_temperature !== undefined)
        pins.setAnalog(
          analogChannel(fw.pins.soilTemperature),
          thermistorCToAdc(env.soil_temperature, fw.thermistorCal),
        )
      if (env.water_level !== undefined && fw.waterLevelCal)
        pins.setAnalog(
          analogChannel(fw.pins.waterLevel),
          waterLevelCmToAdc(env.water_level, fw.waterLevelCal),
        )
      battery(env.battery_voltage, fw.pins.battery)
    } else if (fw instanceof WeatherStation) {
      const prev = this.bmeState
      this.bmeState = {
        temperatureC: env.air_temperature ?? prev.temperatureC,
        relativeHumidityPct: env.relative_humidity ?? prev.relativeHumidityPct,
        pressureHpa: env.pressure ?? prev.pressureHpa,
      }
      this.bme?.set(this.bmeState)
      if (env.solar_radiation !== undefined)
        pins.setAnalog(analogChannel(fw.pins.solar), wm2ToAdc(env.solar_radiation, fw.pyranometerCal))
      battery(env.battery_voltage, fw.pins.battery)
      if (withPulses) {
        this.rainCarryTips += (env.rain_mm_since_last ?? 0) / fw.rainMmPerTip
        // 1e-9: 0.6 mm / 0.2 mm is 2.9999999999999996 tips in floating point, and a bucket is not.
        const tips = Math.floor(this.rainCarryTips + 1e-9)
        this.rainCarryTips = Math.max(0, this.rainCarryTips - tips)
        pins.pulse(fw.pins.rain, tips)
        this.windCarryPulses += windMsToPulses(env.wind_speed ?? 0, fw.intervalMs, fw.windKmhPerHz)
        const turns = Math.floor(this.windCarryPulses + 1e-9)
        this.windCarryPulses = Math.max(0, this.windCarryPulses - turns)
        pins.pulse(fw.pins.wind, turns)
      }
    } else if (fw instanceof DendrometerNode) {
      if (env.stem_diameter !== undefined)
        pins.setAnalog(analogChannel(fw.pins.displacement), stemUmToAdc(env.stem_diameter, fw.dendrometerCal))
      battery(env.battery_voltage, fw.pins.battery)
    }
  }

  private bmeState = {
    temperatureC: WARMUP_ENV.air_temperature,
    relativeHumidityPct: WARMUP_ENV.relative_humidity,
    pressureHpa: WARMUP_ENV.pressure,
  }
}

/** A simulated node: mock board + firmware + driver, started. */
export async function createSimNode(opts: {
  config: AnyNodeConfig
  environment: EnvironmentFn
  clock?: ClockMode
}): Promise<SimNodeDriver> {
  const sim = await createMockBoard({ id: opts.config.deviceId })
  const firmware = createFirmware(sim.board, opts.config)
  const driver = new SimNodeDriver({ firmware, sim, environment: opts.environment, clock: opts.clock })
  await driver.start()
  return driver
}
