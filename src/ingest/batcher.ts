import type { TelemetryStore } from '../store/types.ts'
import type { Reading } from '../telemetry/reading.ts'

export interface BatcherOptions {
  store: TelemetryStore
  /** Flush as soon as this many readings are buffered. */
  maxReadings: number
  /** Flush at the latest this long after the first buffered reading. */
  maxWaitMs: number
  /** Backpressure: `add` waits while more than this many readings are buffered or being written. */
  maxPending: number
  onWrite?: (readings: number, seconds: number) => void
}

interface Waiter {
  resolve: () => void
  reject: (err: unknown) => void
}

/**
 * Collects readings from many messages into large store writes, one write in flight at a time
 * (influxd 1.6 fails with "error syncing wal" when many writes wait). Each `add` resolves only once
 * its readings are durable, so the caller can acknowledge the message then and not before.
 */
export class WriteBatcher {
  private readonly opts: BatcherOptions
  private buffer: Reading[] = []
  private waiters: Waiter[] = []
  private timer: NodeJS.Timeout | undefined
  private writing = false
  private inFlight = 0
  private readonly roomWaiters: Array<() => void> = []
  private idleWaiters: Array<() => void> = []

  constructor(opts: BatcherOptions) {
    this.opts = opts
  }

  /** Readings buffered or being written, not yet durable. */
  get pending(): number {
    return this.buffer.length + this.inFlight
  }

  async add(readings: readonly Reading[]): Promise<void> {
    if (readings.length === 0) return
    while (this.pending >= this.opts.maxPending) {
      await new Promise<void>((resolve) => this.roomWaiters.push(resolve))
    }
    const done = new Promise<void>((resolve, reject) => {
      this.waiters.push({ resolve, reject })
    })
    for (const r of readings) this.buffer.push(r)
    if (this.buffer.length >= this.opts.maxReadings) this.flushSoon(0)
    else this.flushSoon(this.opts.maxWaitMs)
    return done
  }

  /** Resolves once everything added so far is durable (or failed). */
  async drain(): Promise<void> {
    if (this.pending === 0 && !this.writing) return
    this.flushSoon(0)
    await new Promise<void>((resolve) => this.idleWaiters.push(resolve))
  }

  private flushSoon(delayMs: number): void {
    if (this.writing) return // the running write flushes the rest when it finishes
    if (delayMs === 0) {
      if (this.timer) clearTimeout(this.timer)
      this.timer = undefined
      setImmediate(() => void this.flush())
      return
    }
    this.timer ??= setTimeout(() => {
      this.timer = undefined
      void this.flush()
    }, delayMs)
  }

  private async flush(): Promise<void> {
    if (this.writing || this.buffer.length === 0) return
    this.writing = true
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
    const batch = this.buffer
    const waiters = this.waiters
    this.buffer = []
    this.waiters = []
    this.inFlight = batch.length
    const started = performance.now()
    try {
      await this.opts.store.write(batch)
      this.opts.onWrite?.(batch.length, (performance.now() - started) / 1000)
      for (const w of waiters) w.resolve()
    } catch (err) {
      for (const w of waiters) w.reject(err)
    } finally {
      this.inFlight = 0
      this.writing = false
      for (const wake of this.roomWaiters.splice(0)) wake()
      // What arrived during the write has waited long enough: write it next.
      if (this.buffer.length > 0) this.flushSoon(0)
      else for (const idle of this.idleWaiters.splice(0)) idle()
    }
  }
}
