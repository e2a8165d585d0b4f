import five from 'johnny-five'
import type { I2cDevice } from './mock-board.ts'

const { s32, u32, int16, uint16, uint24, s8, constrain } = five.Fn

/**
 * A fake Bosch BME280 on the simulated I2C bus: a register image with the factory trimming
 * coefficients and the raw ADC words of a measurement. `set()` finds the raw words whose
 * compensation (the datasheet's integer formulas, exactly as johnny-five's BME280 driver runs
 * them) gives the requested temperature, pressure and humidity, so johnny-five's Multi/Thermometer/
 * Barometer/Hygrometer decode the physical truth to the sensor's resolution.
 */

export const BME280_ADDRESS = 0x77
const CHIP_ID = 0x60
const REG_CHIP_ID = 0xd0
const REG_CALIB_TP = 0x88
const REG_H1 = 0xa1
const REG_CALIB_H = 0xe1
const REG_DATA = 0xf7

/** Trimming coefficients: the datasheet's example T/P values and a real part's H values. */
export const BME280_TRIM = {
  T1: 27504,
  T2: 26435,
  T3: -1000,
  P1: 36477,
  P2: -10685,
  P3: 3024,
  P4: 2855,
  P5: 140,
  P6: -7,
  P7: 15500,
  P8: -14600,
  P9: 6000,
  H1: 75,
  H2: 362,
  H3: 0,
  H4: 313,
  H5: 50,
  H6: 30,
}
type Trim = typeof BME280_TRIM

export interface Bme280Reading {
  temperatureC: number
  pressurePa: number
  /** %RH × 1024, as the chip's integer formula gives it. */
  humidityQ10: number
}

/** The datasheet's 32-bit integer compensation, transcribed from johnny-five's BME280 driver. */
export function compensate(adcT: number, adcP: number, adcH: number, dig: Trim = BME280_TRIM): Bme280Reading {
  const T = adcT
  const P = adcP
  const H = adcH
  const adc16 = T >> 4
  const adc16subT1 = adc16 - dig.T1
  let v1 = (((T >> 3) - (dig.T1 << 1)) * dig.T2) >> 11
  let v2 = (((adc16subT1 * adc16subT1) >> 12) * dig.T3) >> 14
  const fine = v1 + v2
  const temperatureC = ((fine * 5 + 128) >> 8) / 100

  v1 = s32(fine >> 1) - 64000
  v2 = (((v1 >> 2) * (v1 >> 2)) >> 11) * s32(dig.P6)
  v2 += (v1 * s32(dig.P5)) << 1
  v2 = (v2 >> 2) + (s32(dig.P4) << 16)
  v1 = (((dig.P3 * (((v1 >> 2) * (v1 >> 2)) >> 13)) >> 3) + ((s32(dig.P2) * v1) >> 1)) >> 18
  v1 = ((2 ** 15 + v1) * s32(dig.P1)) >> 15
  let pressurePa = 0
  if (v1 !== 0) {
    let c = u32(s32(2 ** 20) - P - (v2 >> 12)) * 3125
    if (c < 2 ** 31) c = ((c << 1) >>> 0) / u32(v1)
    else c = ((c / u32(v1)) >>> 0) * 2
    c = u32(c) >>> 0
    const shift3 = c >> 3
    v1 = (s32(dig.P9) * s32((shift3 * shift3) >> 13)) >> 12
    v2 = (s32(c >> 2) * dig.P8) >> 13
    pressurePa = u32(s32(c) + ((v1 + v2 + dig.P7) >> 4))
  }

  let vx = s32(fine - 76800)
  vx =
    (((H << 14) - s32(dig.H4 << 20) - dig.H5 * vx + 2 ** 14) >> 15) *
    (((((((vx * dig.H6) >> 10) * (((vx * dig.H3) >> 11) + 2 ** 15)) >> 10) + 2 ** 21) * dig.H2 + 2 ** 13) >>
      14)
  vx -= ((((vx >> 15) * (vx >> 15)) >> 7) * s32(dig.H1)) >> 4
  vx = constrain(vx, 0, 419430400)
  return { temperatureC, pressurePa, humidityQ10: u32(vx >> 12) }
}

/** Smallest x in [lo, hi] with f(x) >= target, for f non-decreasing; then the nearer neighbour. */
function searchUp(f: (x: number) => number, target: number, lo: number, hi: number): number {
  let a = lo
  let b = hi
  while (a < b) {
    const m = (a + b) >> 1
    if (f(m) < target) a = m + 1
    else b = m
  }
  if (a > lo && Math.abs(f(a - 1) - target) <= Math.abs(f(a) - target)) return a - 1
  return a
}

const ADC20_MAX = 2 ** 20 - 1
const ADC16_MAX = 2 ** 16 - 1

export class Bme280Device implements I2cDevice {
  private readonly regs = new Uint8Array(256)
  /** Raw words of the last `set()`, for tests. */
  raw = { adcT: 0x80000, adcP: 0x80000, adcH: 0x8000 }

  constructor(private readonly trim: Trim = BME280_TRIM) {
    const t = trim
    const le16 = (reg: number, v: number) => {
      this.regs[reg] = v & 0xff
      this.regs[reg + 1] = (v >> 8) & 0xff
    }
    ;[t.T1, t.T2, t.T3, t.P1, t.P2, t.P3, t.P4, t.P5, t.P6, t.P7, t.P8, t.P9].forEach((v, i) => {
      le16(REG_CALIB_TP + 2 * i, v)
    })
    this.regs[REG_H1] = t.H1
    le16(REG_CALIB_H, t.H2)
    this.regs[REG_CALIB_H + 2] = t.H3
    // H4 = E4[7:0] << 4 | E5[3:0]; H5 = E6[7:0] << 4 | E5[7:4] (12-bit, split nibble)
    this.regs[0xe4] = (t.H4 >> 4) & 0xff
    this.regs[0xe5] = (t.H4 & 0x0f) | ((t.H5 & 0x0f) << 4)
    this.regs[0xe6] = (t.H5 >> 4) & 0xff
    this.regs[0xe7] = t.H6 & 0xff
    this.regs[REG_CHIP_ID] = CHIP_ID
    this.writeRaw()
    // Self-check of the transcription against johnny-five's own byte helpers.
    if (int16(this.regs[0x8b]!, this.regs[0x8a]!) !== t.T2 || s8(this.regs[0xe7]!) !== t.H6) {
      throw new Error('BME280 trimming image does not round-trip')
    }
  }

  /** Put a measurement in the data registers (clamped to what the chip can report). */
  set(m: { temperatureC: number; pressureHpa: number; relativeHumidityPct: number }): void {
    const trim = this.trim
    const adcT = searchUp((x) => compensate(x, 0, 0, trim).temperatureC, m.temperatureC, 0, ADC20_MAX)
    // Pressure falls as adc_P rises: search on the negated value.
    const adcP = searchUp((x) => -compensate(adcT, x, 0, trim).pressurePa, -m.pressureHpa * 100, 0, ADC20_MAX)
    const adcH = searchUp(
      (x) => compensate(adcT, adcP, x, trim).humidityQ10,
      m.relativeHumidityPct * 1024,
      0,
      ADC16_MAX,
    )
    this.raw = { adcT, adcP, adcH }
    this.writeRaw()
  }

  read(register: number | undefined, length: number): number[] {
    const start = register ?? REG_DATA
    return Array.from(this.regs.subarray(start, start + length))
  }

  write(register: number | undefined, bytes: number[]): void {
    // ctrl_hum/ctrl_meas/config are accepted; reset (0xE0 ← 0xB6) keeps the trimming, like the chip.
    if (register !== undefined && register !== 0xe0) this.regs[register] = bytes[0] ?? 0
  }

  private writeRaw(): void {
    const { adcT, adcP, adcH } = this.raw
    const r = this.regs
    r[REG_DATA] = (adcP >> 12) & 0xff
    r[REG_DATA + 1] = (adcP >> 4) & 0xff
    r[REG_DATA + 2] = (adcP & 0x0f) << 4
    r[REG_DATA + 3] = (adcT >> 12) & 0xff
    r[REG_DATA + 4] = (adcT >> 4) & 0xff
    r[REG_DATA + 5] = (adcT & 0x0f) << 4
    r[REG_DATA + 6] = (adcH >> 8) & 0xff
    r[REG_DATA + 7] = adcH & 0xff
  }
}

/** Decode the data registers like johnny-five does (tests). */
export function decodeDataRegisters(bytes: number[], trim: Trim = BME280_TRIM): Bme280Reading {
  const P = s32(uint24(bytes[0]!, bytes[1]!, bytes[2]!)) >> 4
  const T = s32(uint24(bytes[3]!, bytes[4]!, bytes[5]!)) >> 4
  const H = s32(uint16(bytes[6]!, bytes[7]!))
  return compensate(T, P, H, trim)
}
