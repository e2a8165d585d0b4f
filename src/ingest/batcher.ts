import type { TelemetryStore } from '../store/types.ts'
import type { Reading } from '../telemetry/reading.ts'

export interface BatcherOptions {
  store: TelemetryStore
  /** One store write takes at most this many readings. */
  maxReadings: number
  /** Flush at the latest this long after the first buffered reading. */
  maxWaitMs: number
  /** Backpressure: `add` waits while this many readings are buffered or being written. */
  maxPending: number
  onWrite?: (readings: number, seconds: number) => void
}

interface Waiter {
  /** The message is durable once every reading before this sequence number is written. */
  endSeq: number
  resolve: () => void
  reject: (err: unknown) => void
}

/**
 * Collects readings from many messages into large store writes, one write in flight at a time
 * (influxd 1.6 fails with "error syncing wal" when many writes wait) and at most `maxReadings`
 * per write, so a write's latency stays bounded however far behind the store is. Each `add`
 * resolves only once all its readings are durable, so the caller can acknowledge the message
 * then and not before; a failed write rejects every message with a reading in it.
 */
export class WriteBatcher {
  private readonly opts: BatcherOptions
  private buffer: Reading[] = []
  /** Sequence number of buffer[0]; readings are numbered in the order they were added. */
  private bufferStartSeq = 0
  private readonly waiters: Waiter[] = []
  private timer: NodeJS.Timeout | undefined
  private writing = false
  private inFlight = 0
  private readonly roomWaiters: Array<() => void> = []
  private readonly idleWaiters: Array<() => void> = []

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
    for (const r of readings) this.buffer.push(r)
    const endSeq = this.bufferStartSeq + this.buffer.length
    const done = new Promise<void>((resolve, reject) => {
      this.waiters.push({ endSeq, resolve, reject })
    })
    this.flushSoon(this.buffer.length >= this.opts.maxReadings ? 0 : this.opts.maxWaitMs)
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
    const take = Math.min(this.buffer.length, this.opts.maxReadings)
    const batch = take === this.buffer.length ? this.buffer : this.buffer.slice(0, take)
    this.buffer = take === this.buffer.length ? [] : this.buffer.slice(take)
    const endSeq = this.bufferStartSeq + take
    this.bufferStartSeq = endSeq
    this.inFlight = take
    const started = performance.now()
    let failure: unknown
    let failed = false
    try {
      await this.opts.store.write(batch)
      this.opts.onWrite?.(take, (performance.now() - started) / 1000)
    } catch (err) {
      failed = true
      failure = err
    }
    // Waiters are ordered by endSeq. Success: every message ending within this write is durable.
    // Failure: every message with a reading in this write fails (its other readings may be
    // stored; the resend is harmless because the stores are idempotent).
    // (Waiters are contiguous: each one's readings start where the previous one's end.)
    const w = this.waiters
    let n = 0
    if (!failed) while (n < w.length && w[n]!.endSeq <= endSeq) n++
    else while (n < w.length && (n === 0 || w[n - 1]!.endSeq < endSeq)) n++
    const settled = this.waiters.splice(0, n)
    for (const w of settled) {
      if (failed) w.reject(failure)
      else w.resolve()
    }
    this.inFlight = 0
    this.writing = false
    for (const wake of this.roomWaiters.splice(0)) wake()
    // What arrived during the write has waited long enough: write it next.
    if (this.buffer.length > 0) this.flushSoon(0)
    else for (const idle of this.idleWaiters.splice(0)) idle()
  }
}
