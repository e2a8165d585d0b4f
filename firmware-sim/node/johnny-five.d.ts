// Minimal declarations for the parts of johnny-five 2.x and mock-firmata 0.2 this folder uses
// (neither ships types). Only what the node firmware touches is declared; widen as needed.

declare module 'johnny-five' {
  import { EventEmitter } from 'node:events'

  /** A Firmata-compatible IO object (firmata.js Board, mock-firmata, an IO plugin). */
  export interface IO extends EventEmitter {
    name: string
    isReady: boolean
    MODES: { INPUT: number; OUTPUT: number; ANALOG: number; PWM: number; SERVO: number; I2C: number }
    analogPins: number[]
    pins: unknown[]
    analogRead(pin: number, cb: (value: number) => void): void
    digitalRead(pin: number, cb: (value: number) => void): void
    pinMode(pin: number, mode: number): void
    digitalWrite(pin: number, value: number): void
    i2cConfig(options?: unknown): void
    i2cWrite(address: number, registerOrBytes: number | number[], bytes?: number | number[]): void
    i2cRead(address: number, registerOrBytes: number, bytesOrCb: number | I2cCallback, cb?: I2cCallback): void
    i2cReadOnce(
      address: number,
      registerOrBytes: number,
      bytesOrCb: number | I2cCallback,
      cb?: I2cCallback,
    ): void
  }
  export type I2cCallback = (bytes: number[]) => void

  export interface BoardOptions {
    io?: IO
    port?: string
    id?: string
    repl?: boolean
    debug?: boolean
    sigint?: boolean
    timeout?: number
  }

  export class Board extends EventEmitter {
    constructor(options?: BoardOptions)
    readonly id: string
    readonly io: IO
    readonly isReady: boolean
    readonly MODES: IO['MODES']
    pinMode(pin: number | string, mode: number): void
    digitalRead(pin: number | string, cb: (value: number) => void): void
  }

  export interface ComponentOptions {
    board?: Board
    pin?: number | string
    freq?: number
  }

  export class Sensor extends EventEmitter {
    constructor(options: ComponentOptions & { threshold?: number; type?: 'analog' | 'digital' })
    readonly raw: number | null
    readonly value: number | null
    readonly pin: number
    on(event: 'data' | 'change', listener: (value: number) => void): this
  }

  /** A digital output: an LED, or a relay driver (a valve's solenoid) on the same pin logic. */
  export class Led extends EventEmitter {
    constructor(options: ComponentOptions | number)
    readonly pin: number
    readonly isOn: boolean
    on(): this
    on(event: string, listener: (...args: unknown[]) => void): this
    off(): this
  }

  export interface ThermometerData {
    celsius: number
    C: number
  }
  export interface Thermometer extends EventEmitter {
    readonly celsius: number
    on(event: 'data' | 'change', listener: (data: ThermometerData) => void): this
  }
  export interface Hygrometer extends EventEmitter {
    readonly relativeHumidity: number
    on(event: 'data' | 'change', listener: (data: { relativeHumidity: number; RH: number }) => void): this
  }
  export interface Barometer extends EventEmitter {
    /** kPa */
    readonly pressure: number
    on(event: 'data' | 'change', listener: (data: { pressure: number }) => void): this
  }

  /** A multi-sensor package (BME280, SHT31D, …); its components are johnny-five components. */
  export class Multi extends EventEmitter {
    constructor(options: ComponentOptions & { controller: string; address?: number; elevation?: number })
    readonly thermometer: Thermometer
    readonly hygrometer: Hygrometer
    readonly barometer: Barometer
  }

  export const Fn: {
    s8(value: number): number
    u8(value: number): number
    s32(value: number): number
    u32(value: number): number
    int16(msb: number, lsb: number): number
    uint16(msb: number, lsb: number): number
    uint24(b16: number, b8: number, b0: number): number
    constrain(value: number, lower: number, upper: number): number
  }

  const five: {
    Board: typeof Board
    Sensor: typeof Sensor
    Multi: typeof Multi
    Led: typeof Led
    Fn: typeof Fn
  }
  export default five
}

declare module 'mock-firmata' {
  import type { IO } from 'johnny-five'
  export interface MockFirmataIO extends IO {
    emit(event: string, ...args: unknown[]): boolean
  }
  const mock: {
    Firmata: new (options?: Record<string, unknown>) => MockFirmataIO
  }
  export default mock
}
