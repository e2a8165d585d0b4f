import five, { type Board, type I2cCallback, type IO } from 'johnny-five'
import mock, { type MockFirmataIO } from 'mock-firmata'
import { VirtualTimers } from './virtual-timers.ts'

/**
 * A johnny-five Board on mock Firmata IO, and the handle the simulation drives its pins with.
 *
 * mock-firmata's IO methods are stubs that never answer (board-io logs and returns), so the IO
 * methods johnny-five components call are patched here to answer from `SimulatedPins`: the same
 * callbacks johnny-five registered with `io.analogRead`, `io.digitalRead`, `io.i2cRead` and
 * `io.i2cReadOnce` are called with the values the simulation set, exactly as firmata.js would
 * call them with what came over the serial line.
 */

/** A fake I2C device on the bus: answers reads from its register image. */
export interface I2cDevice {
  /** `register` is undefined for a read without a register (the device's current pointer). */
  read(register: number | undefined, length: number): number[]
  write?(register: number | undefined, bytes: number[]): void
}

interface ContinuousRead {
  address: number
  register: number | undefined
  length: number
  cb: I2cCallback
}

export const defaultMockBoardOptions = {
  /** johnny-five's connect timeout; the mock is ready at once, so this only guards a bug. */
  timeoutMs: 5_000,
}

/** 10-bit ADC, as on an ATmega328 running StandardFirmata. */
export const ADC_MAX = 1023

export class SimulatedPins {
  private readonly analog = new Map<number, number>()
  private readonly analogReaders = new Map<number, Array<(v: number) => void>>()
  private readonly digital = new Map<number, number>()
  private readonly digitalReaders = new Map<number, Array<(v: number) => void>>()
  private readonly bus = new Map<number, I2cDevice>()
  private readonly continuousReads: ContinuousRead[] = []
  private readonly outputs = new Map<number, number>()
  /** Reads addressed to an address with no device on the fake bus (a real bus would NACK). */
  i2cMisses = 0

  /** Install the fake IO methods on a mock-firmata instance. */
  attach(io: IO): void {
    io.analogRead = (channel, cb) => {
      this.listeners(this.analogReaders, channel).push(cb)
    }
    io.digitalRead = (pin, cb) => {
      this.listeners(this.digitalReaders, pin).push(cb)
    }
    io.pinMode = () => {}
    // Outputs (a valve relay, an LED) are recorded as the board's pins would hold them.
    io.digitalWrite = (pin, value) => {
      this.outputs.set(pin, value)
    }
    io.i2cConfig = () => {}
    io.i2cWrite = (address, registerOrBytes, bytes) => {
      const device = this.bus.get(address)
      if (!device?.write) return
      if (Array.isArray(registerOrBytes)) device.write(undefined, registerOrBytes)
      else device.write(registerOrBytes, bytes === undefined ? [] : Array.isArray(bytes) ? bytes : [bytes])
    }
    // i2cRead(address, [register,] length, cb): continuous, answered on every sample() like
    // Firmata's I2C_READ_CONTINUOUSLY answers on every sampling interval.
    io.i2cRead = (address, a, b, c) => {
      const read =
        typeof b === 'function'
          ? { address, register: undefined, length: a, cb: b }
          : { address, register: a, length: b as number, cb: c as I2cCallback }
      this.continuousReads.push(read)
    }
    // i2cReadOnce answers asynchronously, as a reply from the board would.
    io.i2cReadOnce = (address, a, b, c) => {
      const read =
        typeof b === 'function'
          ? { address, register: undefined, length: a, cb: b }
          : { address, register: a, length: b as number, cb: c as I2cCallback }
      queueMicrotask(() => this.answer(read))
    }
  }

  /** What the firmware last wrote to a digital output pin (0 before any write). */
  output(pin: number): number {
    return this.outputs.get(pin) ?? 0
  }

  /** Set an analog channel (A0 = 0) to a raw ADC value and report it to johnny-five. */
  setAnalog(channel: number, adc: number): void {
    const value = Math.max(0, Math.min(ADC_MAX, Math.round(adc)))
    this.analog.set(channel, value)
    for (const cb of this.analogReaders.get(channel) ?? []) cb(value)
  }

  /** Set a digital pin; johnny-five hears it only when it changes (Firmata reports changes). */
  setDigital(pin: number, value: 0 | 1): void {
    if ((this.digital.get(pin) ?? 0) === value) return
    this.digital.set(pin, value)
    for (const cb of this.digitalReaders.get(pin) ?? []) cb(value)
  }

  /** `count` full pulses (rising then falling edge) on a digital pin. */
  pulse(pin: number, count: number): void {
    for (let i = 0; i < count; i++) {
      this.setDigital(pin, 1)
      this.setDigital(pin, 0)
    }
  }

  /** Put a device on the fake I2C bus (replacing any at that address). */
  setI2cDevice(address: number, device: I2cDevice): void {
    this.bus.set(address, device)
  }

  /**
   * One Firmata sampling cycle: every analog channel johnny-five reads is reported again and every
   * continuous I2C read is answered from the device's current registers.
   */
  sample(): void {
    for (const [channel, readers] of this.analogReaders) {
      const value = this.analog.get(channel)
      if (value === undefined) continue
      for (const cb of readers) cb(value)
    }
    for (const read of this.continuousReads) this.answer(read)
  }

  /** What johnny-five registered, for tests proving the values go through it. */
  registered(): { analog: number[]; digital: number[]; i2cContinuous: number[] } {
    return {
      analog: [...this.analogReaders.keys()],
      digital: [...this.digitalReaders.keys()],
      i2cContinuous: this.continuousReads.map((r) => r.address),
    }
  }

  private answer(read: ContinuousRead): void {
    const device = this.bus.get(read.address)
    if (!device) {
      this.i2cMisses++
      return
    }
    read.cb(device.read(read.register, read.length))
  }

  private listeners<T>(map: Map<number, T[]>, key: number): T[] {
    let list = map.get(key)
    if (!list) {
      list = []
      map.set(key, list)
    }
    return list
  }
}

/** A johnny-five board on mock Firmata, its pins, and the virtual timers of its components. */
export interface SimulatedBoard {
  board: Board
  io: MockFirmataIO
  pins: SimulatedPins
  timers: VirtualTimers
}

/** Create a johnny-five Board on mock Firmata IO; resolves once johnny-five emitted `ready`. */
export function createMockBoard(opts: { id?: string; timeoutMs?: number } = {}): Promise<SimulatedBoard> {
  const timeoutMs = opts.timeoutMs ?? defaultMockBoardOptions.timeoutMs
  const io = new mock.Firmata()
  const pins = new SimulatedPins()
  pins.attach(io)
  const board = new five.Board({
    io,
    id: opts.id,
    repl: false,
    debug: false,
    sigint: false,
    timeout: timeoutMs,
  })
  return new Promise((resolve, reject) => {
    board.once('ready', () => resolve({ board, io, pins, timers: new VirtualTimers() }))
    board.once('error', reject)
    // What firmata.js emits once the board answered the capability queries.
    io.emit('connect')
    io.emit('ready')
  })
}

/** Open a real board running StandardFirmata on a serial port (johnny-five's own serial path). */
export function openSerialBoard(opts: { port: string; id?: string; timeoutMs?: number }): Promise<Board> {
  const board = new five.Board({
    port: opts.port,
    id: opts.id,
    repl: false,
    debug: false,
    timeout: opts.timeoutMs ?? 10_000,
  })
  return new Promise((resolve, reject) => {
    board.once('ready', () => resolve(board))
    board.once('error', reject)
  })
}
