import { EventEmitter } from 'node:events'
import five, { type Board, type Led } from 'johnny-five'
import {
  type AppliedConfig,
  type CommandAck,
  type CommandMessage,
  type CommandParams,
  DEFAULT_IRRIGATE_S,
  parseCommandMessage,
} from '../../src/commands/index.ts'
import type { Quantity } from '../../src/telemetry/index.ts'
import { BME280_ADDRESS } from './bme280.ts'
import {
  adcToBatteryV,
  adcToStemUm,
  adcToThermistorC,
  adcToVwcPct,
  adcToWaterLevelCm,
  adcToWm2,
  type BatteryCalibration,
  type DendrometerCalibration,
  defaultBattery,
  defaultDendrometer,
  defaultMoisture,
  defaultPyranometer,
  defaultRainMmPerTip,
  defaultThermistor,
  defaultWindKmhPerHz,
  type MoistureCalibration,
  type PyranometerCalibration,
  pulsesToWindMs,
  type ThermistorCalibration,
  type WaterLevelCalibration,
} from './calibration.ts'

/**
 * Node firmware written against johnny-five's component APIs. Each node builds its johnny-five
 * components on a ready Board (real Firmata over serial, or mock Firmata in simulation) and keeps
 * the latest value each component delivered through its `data` event; `report()` turns those into
 * one reading `{sensor, values}` in canonical units. Nothing here reads the simulation.
 */

/** One reading of a node: what a driver hands to `Gateway.submit(deviceId, reading)`. */
export interface NodeReport {
  sensor?: string
  values: Partial<Record<Quantity, number>>
}

export type NodeKind = 'soil' | 'weather' | 'dendrometer'

/** An analog pin as johnny-five takes it: 'A0'…'A5' (or the analog channel number). */
export type AnalogPin = `A${number}`

export interface CommonConfig {
  deviceId: string
  /** The `sensor` tag of the readings (default: the node kind). */
  sensor?: string
  /** How often the node reports (its own timer on a real board; the simulation steps by it). */
  intervalMs?: number
  /** johnny-five component `freq`: how often components emit `data`. */
  sampleFreqMs?: number
  battery?: BatteryCalibration
  /** Digital pin of a valve's relay (a johnny-five Led drives it); none: the node has no valve. */
  valvePin?: number
  /** The node's clock (its RTC, set by the gateway); default Date.now. */
  clock?: () => number
}

/** Command ids a node remembers as done: a repeat among them is acknowledged again, never redone. */
export const REMEMBERED_COMMANDS = 64

export const defaultFirmwareOptions = {
  // 10 min: the district's reporting interval; soil and stem change slower, rain is summed anyway.
  intervalMs: 10 * 60_000,
  // 1 s on a real board: the Sensor median filter sees ~50 Firmata samples (19 ms) per tick.
  sampleFreqMs: 1_000,
}

const round = (v: number, digits: number) => {
  const f = 10 ** digits
  return Math.round(v * f) / f
}

interface Latest {
  value: number | undefined
  /** `data` events seen (tests; readiness). */
  events: number
}

export abstract class NodeFirmware extends EventEmitter {
  abstract readonly kind: NodeKind
  readonly deviceId: string
  /** How often the node reports; a `set_config` command changes it. */
  intervalMs: number
  /** The version of the desired configuration applied (0: none; a real node keeps it in EEPROM). */
  configVersion = 0
  /** A valve node's local rule: under this soil moisture (VWC %) it opens its valve by itself. */
  dryThresholdPct: number | undefined
  /** How long the local dry rule opens the valve (default DEFAULT_IRRIGATE_S). */
  irrigateS: number | undefined
  /** Valve openings by the local dry rule (tests). */
  localIrrigations = 0
  /** The interval the node was built with: a versioned configuration without one goes back to it. */
  private readonly defaultIntervalMs: number
  readonly sampleFreqMs: number
  /** The valve's relay, once started (a node with `valvePin`). */
  valve: Led | undefined
  /** Commands carried out, by id, with the answer given (oldest first; REMEMBERED_COMMANDS at most). */
  private readonly done = new Map<string, CommandAck>()
  private valveTimer: NodeJS.Timeout | undefined
  /** Times a command was executed (tests: a repeated id must not add one). */
  executed = 0
  reboots = 0
  /** The johnny-five components by role, once started (tests inspect them). */
  readonly components: Record<string, EventEmitter> = {}
  protected readonly latest = new Map<string, Latest>()
  private timer: NodeJS.Timeout | undefined
  private started = false

  constructor(
    readonly board: Board,
    protected readonly common: CommonConfig,
  ) {
    super()
    this.deviceId = common.deviceId
    this.intervalMs = common.intervalMs ?? defaultFirmwareOptions.intervalMs
    this.defaultIntervalMs = this.intervalMs
    this.sampleFreqMs = common.sampleFreqMs ?? defaultFirmwareOptions.sampleFreqMs
  }

  get batteryCal(): BatteryCalibration {
    return this.common.battery ?? defaultBattery
  }

  get sensorName(): string {
    return this.common.sensor ?? this.kind
  }

  /**
   * Build the johnny-five components (the board must be ready). With `timer` (default) the node
   * emits `report` every `intervalMs` on its own; a simulation driver passes `timer: false` and
   * calls `report()` at each simulated step.
   */
  start(opts: { timer?: boolean } = {}): void {
    if (this.started) return
    if (!this.board.isReady) throw new Error(`${this.deviceId}: board is not ready`)
    this.started = true
    this.build()
    if (this.common.valvePin !== undefined) {
      this.valve = new five.Led({ board: this.board, pin: this.common.valvePin })
      this.valve.off()
    }
    this.timed = opts.timer ?? true
    this.startTimer()
  }

  private timed = false

  private startTimer(): void {
    if (this.timer) clearInterval(this.timer)
    this.timer = undefined
    if (this.timed) this.timer = setInterval(() => this.emit('report', this.report()), this.intervalMs)
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer)
    this.timer = undefined
    this.closeValve()
  }

  /**
   * A command from the node's down topic; returns the answer for its ack topic. A command id seen
   * before is not carried out again: the broker may deliver a QoS 1 message twice, and the service
   * sends an unacknowledged command again after a restart or a lost ack, so a repeat gets the
   * first answer and nothing else happens (a valve is not opened twice).
   */
  handleCommand(payload: Buffer | string): CommandAck | undefined {
    const parsed = parseCommandMessage(payload)
    if (!parsed.ok) return parsed.id ? { id: parsed.id, ok: false, error: parsed.error } : undefined
    const command = parsed.command
    const before = this.done.get(command.id)
    if (before) return before
    const ack = this.execute(command)
    this.done.set(command.id, ack)
    if (this.done.size > REMEMBERED_COMMANDS) this.done.delete(this.done.keys().next().value!)
    this.emit('command', command, ack)
    return ack
  }

  /** Whether the valve's relay is energised (open). */
  get valveOpen(): boolean {
    return this.valve?.isOn ?? false
  }

  private execute(command: CommandMessage): CommandAck {
    this.executed++
    const { id } = command
    switch (command.kind) {
      case 'set_config':
        return this.setConfig(id, command.params as CommandParams['set_config'])
      case 'reboot':
        // A simulated reboot: the valve closes (a relay loses power) and the report timer restarts.
        this.reboots++
        this.closeValve()
        this.startTimer()
        return { id, ok: true }
      case 'valve_open': {
        if (!this.valve) return { id, ok: false, error: 'no valve on this node' }
        // Water nobody asked for any more: an opening delivered after its expiry (a late QoS 1
        // redelivery, a gateway's backlog) is refused; the farmer was told it did not happen.
        const nowMs = (this.common.clock ?? Date.now)()
        if (command.expiresAtMs < nowMs)
          return {
            id,
            ok: false,
            error: `expired ${Math.round((nowMs - command.expiresAtMs) / 1000)} s ago: not opened`,
          }
        this.openValve(command.params.maxDurationS as number)
        return { id, ok: true }
      }
      case 'valve_close':
        if (!this.valve) return { id, ok: false, error: 'no valve on this node' }
        this.closeValve()
        return { id, ok: true }
    }
  }

  /** The configuration in effect, as the node reports it. */
  appliedConfig(): AppliedConfig {
    return {
      version: this.configVersion,
      reportIntervalS: Math.round(this.intervalMs / 1000),
      ...(this.dryThresholdPct !== undefined ? { dryThresholdPct: this.dryThresholdPct } : {}),
      ...(this.irrigateS !== undefined ? { irrigateS: this.irrigateS } : {}),
    }
  }

  /**
   * Without a version: the settings given change. With one: the whole configuration (what it
   * leaves out goes back to the default); an older version than the applied one is refused, the
   * same one is answered without applying it again. Nothing changes unless all of it can be applied.
   */
  private setConfig(id: string, params: CommandParams['set_config']): CommandAck {
    const { version, ...given } = params
    if (version !== undefined && version < this.configVersion)
      return {
        id,
        ok: false,
        error: `superseded: version ${this.configVersion} is applied`,
        config: this.appliedConfig(),
      }
    if (version !== undefined && version === this.configVersion)
      return { id, ok: true, config: this.appliedConfig() }
    const next =
      version === undefined
        ? {
            reportIntervalS: given.reportIntervalS ?? this.intervalMs / 1000,
            dryThresholdPct: 'dryThresholdPct' in given ? given.dryThresholdPct : this.dryThresholdPct,
            irrigateS: 'irrigateS' in given ? given.irrigateS : this.irrigateS,
          }
        : { ...given, reportIntervalS: given.reportIntervalS ?? this.defaultIntervalMs / 1000 }
    if (next.dryThresholdPct !== undefined && !this.valve)
      return { id, ok: false, error: 'no valve on this node (dryThresholdPct)', config: this.appliedConfig() }
    if (next.reportIntervalS * 1000 !== this.intervalMs) {
      this.intervalMs = next.reportIntervalS * 1000
      this.startTimer()
    }
    this.dryThresholdPct = next.dryThresholdPct
    this.irrigateS = next.irrigateS
    if (version !== undefined) this.configVersion = version
    return { id, ok: true, config: this.appliedConfig() }
  }

  /**
   * The local dry rule, at each report: a valve node whose soil is drier than `dryThresholdPct`
   * opens its valve for `irrigateS` by itself (it closes by itself too).
   */
  protected irrigateIfDry(moisturePct: number | undefined): void {
    if (this.dryThresholdPct === undefined || !this.valve || moisturePct === undefined) return
    if (moisturePct >= this.dryThresholdPct || this.valve.isOn) return
    this.localIrrigations++
    this.openValve(this.irrigateS ?? DEFAULT_IRRIGATE_S)
  }

  private openValve(maxS: number): void {
    if (!this.valve) return
    if (!this.valve.isOn) {
      this.valve.on()
      this.emit('valve', true)
    }
    clearTimeout(this.valveTimer)
    // Safety: the valve closes by itself after maxS even if no close ever arrives.
    this.valveTimer = setTimeout(() => this.closeValve(), maxS * 1000)
    this.valveTimer.unref()
  }

  private closeValve(): void {
    clearTimeout(this.valveTimer)
    this.valveTimer = undefined
    if (this.valve?.isOn) {
      this.valve.off()
      this.emit('valve', false)
    }
  }

  /** True once every analog/I2C component has delivered a value through its `data` event. */
  isReady(): boolean {
    for (const l of this.latest.values()) if (l.value === undefined) return false
    return this.started
  }

  /** The reading of this interval, from the latest component values; resets pulse counts. */
  abstract report(): NodeReport

  protected abstract build(): void

  /** Keep the latest `data` value of a johnny-five component under `role`. */
  protected listen<T>(role: string, component: EventEmitter, map: (data: T) => number): void {
    const latest: Latest = { value: undefined, events: 0 }
    this.latest.set(role, latest)
    this.components[role] = component
    component.on('data', (data: T) => {
      latest.value = map(data)
      latest.events++
    })
  }

  protected analogSensor(role: string, pin: AnalogPin | number): void {
    const sensor = new five.Sensor({ board: this.board, pin, freq: this.sampleFreqMs, threshold: 1 })
    this.listen<number>(role, sensor, (adc) => adc)
  }

  protected value(role: string): number | undefined {
    return this.latest.get(role)?.value
  }

  protected batteryV(): number | undefined {
    const adc = this.value('battery')
    return adc === undefined ? undefined : round(adcToBatteryV(adc, this.batteryCal), 2)
  }

  protected put(values: NodeReport['values'], q: Quantity, v: number | undefined): void {
    if (v !== undefined && Number.isFinite(v)) values[q] = v
  }
}

/**
 * Counts rising edges on a digital pin through johnny-five's Board#digitalRead (the Firmata
 * digital report, which arrives on every change). johnny-five's Button and Switch debounce with
 * wall-clock timers (7 ms / 5 ms) and Pin/Sensor(digital) only sample the level at `freq`, so
 * none of them counts an anemometer's pulses; a reed-switch gauge needs the raw edges.
 */
export class PulseCounter extends EventEmitter {
  private count = 0
  private last = 0
  total = 0

  constructor(
    private readonly board: Board,
    readonly pin: number,
  ) {
    super()
  }

  start(): void {
    this.board.pinMode(this.pin, this.board.MODES.INPUT)
    this.board.digitalRead(this.pin, (level) => {
      if (level === 1 && this.last === 0) {
        this.count++
        this.total++
        this.emit('pulse', this.total)
      }
      this.last = level
    })
  }

  /** Pulses since the last take, and restart counting. */
  take(): number {
    const n = this.count
    this.count = 0
    return n
  }
}

// ─── Soil node ────────────────────────────────────────────────────────────────────────────────

export interface SoilNodeConfig extends CommonConfig {
  pins?: { moisture?: AnalogPin; soilTemperature?: AnalogPin; battery?: AnalogPin; waterLevel?: AnalogPin }
  moisture?: MoistureCalibration
  thermistor?: ThermistorCalibration
  /** A paddy node's AWD tube transducer (reports `water_level`); absent on upland nodes. */
  waterLevel?: WaterLevelCalibration
}
export const defaultSoilPins = {
  moisture: 'A0',
  soilTemperature: 'A1',
  battery: 'A2',
  waterLevel: 'A3',
} as const
/** A field node's irrigation valve relay (digital pin 7: clear of the serial pins and PWM). */
export const defaultValvePin = 7

/**
 * Capacitive soil moisture probe, NTC soil thermometer and battery divider on analog pins; on a
 * paddy also the AWD tube's water-level transducer.
 */
export class SoilNode extends NodeFirmware {
  readonly kind = 'soil'
  readonly pins: Required<NonNullable<SoilNodeConfig['pins']>>
  readonly moistureCal: MoistureCalibration
  readonly thermistorCal: ThermistorCalibration
  readonly waterLevelCal: WaterLevelCalibration | undefined

  constructor(board: Board, config: SoilNodeConfig) {
    super(board, { valvePin: defaultValvePin, ...config })
    this.pins = { ...defaultSoilPins, ...config.pins }
    this.moistureCal = config.moisture ?? defaultMoisture
    this.thermistorCal = config.thermistor ?? defaultThermistor
    this.waterLevelCal = config.waterLevel
  }

  protected build(): void {
    this.analogSensor('moisture', this.pins.moisture)
    this.analogSensor('soilTemperature', this.pins.soilTemperature)
    this.analogSensor('battery', this.pins.battery)
    if (this.waterLevelCal) this.analogSensor('waterLevel', this.pins.waterLevel)
  }

  report(): NodeReport {
    const values: NodeReport['values'] = {}
    const m = this.value('moisture')
    const t = this.value('soilTemperature')
    this.put(
      values,
      'soil_moisture',
      m === undefined ? undefined : round(adcToVwcPct(m, this.moistureCal), 1),
    )
    this.put(
      values,
      'soil_temperature',
      t === undefined ? undefined : round(adcToThermistorC(t, this.thermistorCal), 2),
    )
    const level = this.waterLevelCal ? this.value('waterLevel') : undefined
    this.put(
      values,
      'water_level',
      level === undefined ? undefined : round(adcToWaterLevelCm(level, this.waterLevelCal), 1),
    )
    this.put(values, 'battery_voltage', this.batteryV())
    this.irrigateIfDry(values.soil_moisture)
    return { sensor: this.sensorName, values }
  }
}

// ─── Weather station ──────────────────────────────────────────────────────────────────────────

export interface WeatherStationConfig extends CommonConfig {
  pins?: { rain?: number; wind?: number; solar?: AnalogPin; battery?: AnalogPin }
  /** I2C address of the BME280 (0x77, or 0x76 with SDO low). */
  bme280Address?: number
  rainMmPerTip?: number
  windKmhPerHz?: number
  pyranometer?: PyranometerCalibration
}
export const defaultWeatherPins = { rain: 2, wind: 3, solar: 'A0', battery: 'A1' } as const

/**
 * BME280 over I2C (johnny-five Multi: thermometer, hygrometer, barometer), tipping-bucket rain
 * gauge and cup anemometer as pulses on digital pins, analog pyranometer, battery divider.
 */
export class WeatherStation extends NodeFirmware {
  readonly kind = 'weather'
  readonly pins: { rain: number; wind: number; solar: AnalogPin; battery: AnalogPin }
  readonly bme280Address: number
  readonly rainMmPerTip: number
  readonly windKmhPerHz: number
  readonly pyranometerCal: PyranometerCalibration
  readonly rain: PulseCounter
  readonly wind: PulseCounter

  constructor(board: Board, config: WeatherStationConfig) {
    super(board, config)
    this.pins = { ...defaultWeatherPins, ...config.pins }
    this.bme280Address = config.bme280Address ?? BME280_ADDRESS
    this.rainMmPerTip = config.rainMmPerTip ?? defaultRainMmPerTip
    this.windKmhPerHz = config.windKmhPerHz ?? defaultWindKmhPerHz
    this.pyranometerCal = config.pyranometer ?? defaultPyranometer
    this.rain = new PulseCounter(board, this.pins.rain)
    this.wind = new PulseCounter(board, this.pins.wind)
  }

  protected build(): void {
    const multi = new five.Multi({
      controller: 'BME280',
      board: this.board,
      address: this.bme280Address,
      freq: this.sampleFreqMs,
    })
    this.components.multi = multi
    this.listen<{ celsius: number }>('airTemperature', multi.thermometer, (d) => d.celsius)
    this.listen<{ relativeHumidity: number }>('humidity', multi.hygrometer, (d) => d.relativeHumidity)
    this.listen<{ pressure: number }>('pressure', multi.barometer, (d) => d.pressure)
    this.analogSensor('solar', this.pins.solar)
    this.analogSensor('battery', this.pins.battery)
    this.rain.start()
    this.wind.start()
    this.components.rain = this.rain
    this.components.wind = this.wind
  }

  report(): NodeReport {
    const values: NodeReport['values'] = {}
    const kpa = this.value('pressure')
    const solar = this.value('solar')
    this.put(values, 'air_temperature', this.value('airTemperature'))
    this.put(values, 'relative_humidity', this.value('humidity'))
    this.put(values, 'pressure', kpa === undefined ? undefined : round(kpa * 10, 2)) // kPa → hPa
    this.put(values, 'rainfall', round(this.rain.take() * this.rainMmPerTip, 2))
    this.put(
      values,
      'wind_speed',
      round(pulsesToWindMs(this.wind.take(), this.intervalMs, this.windKmhPerHz), 2),
    )
    this.put(
      values,
      'solar_radiation',
      solar === undefined ? undefined : round(adcToWm2(solar, this.pyranometerCal), 1),
    )
    this.put(values, 'battery_voltage', this.batteryV())
    return { sensor: this.sensorName, values }
  }
}

// ─── Dendrometer node ─────────────────────────────────────────────────────────────────────────

export interface DendrometerNodeConfig extends CommonConfig {
  pins?: { displacement?: AnalogPin; battery?: AnalogPin }
  /** `baseDiameterUm` is the stem measured at mounting; travel and mount ADC default. */
  dendrometer: Partial<DendrometerCalibration> & { baseDiameterUm: number }
}
export const defaultDendrometerPins = { displacement: 'A0', battery: 'A1' } as const

/** Point dendrometer (linear potentiometer) on an analog pin, battery divider. */
export class DendrometerNode extends NodeFirmware {
  readonly kind = 'dendrometer'
  readonly pins: Required<NonNullable<DendrometerNodeConfig['pins']>>
  readonly dendrometerCal: DendrometerCalibration

  constructor(board: Board, config: DendrometerNodeConfig) {
    super(board, config)
    this.pins = { ...defaultDendrometerPins, ...config.pins }
    this.dendrometerCal = { ...defaultDendrometer, ...config.dendrometer }
  }

  protected build(): void {
    this.analogSensor('displacement', this.pins.displacement)
    this.analogSensor('battery', this.pins.battery)
  }

  report(): NodeReport {
    const values: NodeReport['values'] = {}
    const adc = this.value('displacement')
    this.put(
      values,
      'stem_diameter',
      adc === undefined ? undefined : round(adcToStemUm(adc, this.dendrometerCal), 1),
    )
    this.put(values, 'battery_voltage', this.batteryV())
    return { sensor: this.sensorName, values }
  }
}

export type AnyNodeConfig =
  | ({ kind: 'soil' } & SoilNodeConfig)
  | ({ kind: 'weather' } & WeatherStationConfig)
  | ({ kind: 'dendrometer' } & DendrometerNodeConfig)

/** Build the firmware of a node kind on a board (not started). */
export function createFirmware(board: Board, config: AnyNodeConfig): NodeFirmware {
  switch (config.kind) {
    case 'soil':
      return new SoilNode(board, config)
    case 'weather':
      return new WeatherStation(board, config)
    case 'dendrometer':
      return new DendrometerNode(board, config)
  }
}
