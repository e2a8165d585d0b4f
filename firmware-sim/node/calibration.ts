import { ADC_MAX } from './mock-board.ts'

/**
 * Calibrations of the node sensors: raw signal → canonical unit (what the firmware computes from
 * johnny-five's values) and the inverse (what the simulation puts on the pins). Pure functions; the
 * defaults are what a node uses unless its config says otherwise.
 */

const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v))
const KELVIN = 273.15

/** Capacitive soil moisture probe (v1.2 style): output falls as the soil gets wetter. Linear. */
export interface MoistureCalibration {
  /** ADC in dry soil (0 % VWC). */
  dryAdc: number
  /** ADC at `wetVwcPct` (soil at field saturation in a jar test). */
  wetAdc: number
  wetVwcPct: number
}
export const defaultMoisture: MoistureCalibration = { dryAdc: 820, wetAdc: 430, wetVwcPct: 50 }

export function adcToVwcPct(adc: number, c: MoistureCalibration = defaultMoisture): number {
  return clamp(((c.dryAdc - adc) / (c.dryAdc - c.wetAdc)) * c.wetVwcPct, 0, 100)
}
export function vwcPctToAdc(vwcPct: number, c: MoistureCalibration = defaultMoisture): number {
  return clamp(Math.round(c.dryAdc - (vwcPct / c.wetVwcPct) * (c.dryAdc - c.wetAdc)), 0, ADC_MAX)
}

/**
 * AWD tube water level: a submersible pressure transducer at the bottom of the perforated field
 * tube, 0.5–4.5 V over its range, so the ADC reads the water column linearly; the firmware turns it
 * into cm relative to the soil surface (+ standing water, − water table in the tube).
 */
export interface WaterLevelCalibration {
  /** Level [cm] at ADC `lowAdc` (the tube's bottom) and at `highAdc` (the top of its range). */
  lowCm: number
  lowAdc: number
  highCm: number
  highAdc: number
}
export const defaultWaterLevel: WaterLevelCalibration = { lowCm: -40, lowAdc: 102, highCm: 20, highAdc: 921 }

export function adcToWaterLevelCm(adc: number, c: WaterLevelCalibration = defaultWaterLevel): number {
  const cm = c.lowCm + ((adc - c.lowAdc) / (c.highAdc - c.lowAdc)) * (c.highCm - c.lowCm)
  return clamp(cm, c.lowCm, c.highCm)
}
export function waterLevelCmToAdc(cm: number, c: WaterLevelCalibration = defaultWaterLevel): number {
  const adc = c.lowAdc + ((cm - c.lowCm) / (c.highCm - c.lowCm)) * (c.highAdc - c.lowAdc)
  return clamp(Math.round(adc), 0, ADC_MAX)
}

/**
 * NTC thermistor to ground with a series resistor to the ADC reference (a buried soil probe).
 * Beta equation; ~0.1 °C per ADC count around 25 °C with the defaults.
 */
export interface ThermistorCalibration {
  seriesOhm: number
  nominalOhm: number
  nominalC: number
  beta: number
}
export const defaultThermistor: ThermistorCalibration = {
  seriesOhm: 10_000,
  nominalOhm: 10_000,
  nominalC: 25,
  beta: 3950,
}

export function adcToThermistorC(adc: number, c: ThermistorCalibration = defaultThermistor): number {
  const a = clamp(adc, 1, ADC_MAX - 1) // 0 or full scale is an open or shorted probe
  const ohm = (c.seriesOhm * a) / (ADC_MAX - a)
  return 1 / (1 / (c.nominalC + KELVIN) + Math.log(ohm / c.nominalOhm) / c.beta) - KELVIN
}
export function thermistorCToAdc(celsius: number, c: ThermistorCalibration = defaultThermistor): number {
  const ohm = c.nominalOhm * Math.exp(c.beta * (1 / (celsius + KELVIN) - 1 / (c.nominalC + KELVIN)))
  return clamp(Math.round((ADC_MAX * ohm) / (ohm + c.seriesOhm)), 0, ADC_MAX)
}

/** Battery through a resistive divider into an ADC referenced to `arefV`. */
export interface BatteryCalibration {
  arefV: number
  /** (R1 + R2) / R2: 2 for two equal resistors (a 1-cell Li-ion reads up to 10 V on a 5 V ADC). */
  dividerRatio: number
}
export const defaultBattery: BatteryCalibration = { arefV: 5, dividerRatio: 2 }

export function adcToBatteryV(adc: number, c: BatteryCalibration = defaultBattery): number {
  return (adc / ADC_MAX) * c.arefV * c.dividerRatio
}
export function batteryVToAdc(volts: number, c: BatteryCalibration = defaultBattery): number {
  return clamp(Math.round((volts / (c.arefV * c.dividerRatio)) * ADC_MAX), 0, ADC_MAX)
}

/** Amplified pyranometer with a voltage output (0–5 V for 0–2000 W/m² by default). */
export interface PyranometerCalibration {
  arefV: number
  mvPerWm2: number
}
export const defaultPyranometer: PyranometerCalibration = { arefV: 5, mvPerWm2: 2.5 }

export function adcToWm2(adc: number, c: PyranometerCalibration = defaultPyranometer): number {
  return ((adc / ADC_MAX) * c.arefV * 1000) / c.mvPerWm2
}
export function wm2ToAdc(wm2: number, c: PyranometerCalibration = defaultPyranometer): number {
  return clamp(Math.round(((Math.max(0, wm2) * c.mvPerWm2) / (c.arefV * 1000)) * ADC_MAX), 0, ADC_MAX)
}

/**
 * Point dendrometer (a linear potentiometer across the stem, caliper style): ADC 0…1023 spans
 * `travelUm`; at mounting the ADC read `mountAdc` and the stem measured `baseDiameterUm` by tape.
 */
export interface DendrometerCalibration {
  travelUm: number
  mountAdc: number
  baseDiameterUm: number
}
export const defaultDendrometer: Omit<DendrometerCalibration, 'baseDiameterUm'> = {
  // 5 mm travel: 4.9 µm per count on a 10-bit ADC; daily shrink/swell of a young tree is tens of µm.
  travelUm: 5_000,
  // Mounted at 10 % of travel: 0.5 mm of room to shrink, 4.5 mm to grow before re-mounting.
  mountAdc: 102,
}

export function adcToStemUm(adc: number, c: DendrometerCalibration): number {
  return c.baseDiameterUm + ((adc - c.mountAdc) * c.travelUm) / ADC_MAX
}
export function stemUmToAdc(stemUm: number, c: DendrometerCalibration): number {
  return clamp(Math.round(c.mountAdc + ((stemUm - c.baseDiameterUm) * ADC_MAX) / c.travelUm), 0, ADC_MAX)
}

/** Tipping-bucket rain gauge. */
export const defaultRainMmPerTip = 0.2
/** Cup anemometer: 1 pulse/s = 2.4 km/h (the common Davis/Misol-style reed-switch cups). */
export const defaultWindKmhPerHz = 2.4

export function pulsesToWindMs(pulses: number, windowMs: number, kmhPerHz = defaultWindKmhPerHz): number {
  return ((pulses / (windowMs / 1000)) * kmhPerHz) / 3.6
}
/** Pulses (fractional; the caller carries the remainder) for a mean wind speed over a window. */
export function windMsToPulses(windMs: number, windowMs: number, kmhPerHz = defaultWindKmhPerHz): number {
  return ((Math.max(0, windMs) * 3.6) / kmhPerHz) * (windowMs / 1000)
}
