import { getLogger } from '../log.ts'
import { type RefusedReading, StorePartialWriteError, type TelemetryStore } from '../store/index.ts'
import type { Reading } from '../telemetry/index.ts'

export interface BatcherOptions {
  store: TelemetryStore
  /** One store write takes at most this many readings. */
  maxReadings: number
  /** Flush at the latest this long after the first buffered reading. */
  maxWaitMs: number
  /** Backpressure: `add` waits while this many readings are buffered or being written. */
  maxPending: number
  /**
   * Store writes in flight at most: the one concurrency limit of the write path (stores take
   * writes as they come and keep no queue of their own). Default 2.
   */
  maxWritesInFlight?: number
  onWrite?: (readings: number, seconds: number) => void
  /** A store write failed (not a partial write): its messages are not acknowledged. */
  onWriteFailed?: (error: unknown) => void
}

/**
 * Called once, never synchronously: `failed` false when every reading is durable, except those in
 * `refused` (indices into the message's readings) that the store refused for good; else with the
 * store's error.
 */
export type AddDone = (failed: boolean, error?: unknown, refused?: readonly RefusedReading[]) => void

interface Waiter {
  /** Sequence number of the message's first reading. */
  startSeq: number
  /** The message is durable once every reading before this sequence number is written. */
  endSeq: number
  done: AddDone
  /** Readings of this message the store refused for good (index into the message's readings). */
  refused?: RefusedReading[]
}

const log = getLogger('ingest')

interface WriteOutcome {
  startSeq: number
  endSeq: number
  failed: boolean
  error?: unknown
  /** A partial write: every reading stored except these (index into the write's batch). */
  refused?: readonly RefusedReading[]
}

/**
 * Collects readings from many messages into large store writes: at most `maxReadings` per write,
 * so a write's latency stays bounded however far behind the store is, and `maxWritesInFlight`
 * writes in flight (default 2), so the store writes one batch while the next is gathered and
 * encoded (influxd 1.6 fails with "error syncing wal" when many writes wait). This is the only
 * limit on store writes: the stores below run what they are given. Each `add` completes only once all its readings are
 * durable, so the caller can acknowledge the message then and not before; a failed write rejects
 * every message with a reading in it.
 */
export class WriteBatcher {
  private readonly opts: BatcherOptions
  private readonly maxWrites: number
  private buffer: Reading[] = []
  /** Sequence number of buffer[0]; readings are numbered in the order they were added. */
  private bufferStartSeq = 0
  /**
   * Waiters in order from `waitersHead` (those before it are settled); contiguous: each one's
   * readings start where the previous one's end. Settled ones are dropped from the front in bulk,
   * not one splice per write (with thousands of messages per write that moved the array each time).
   */
  private waiters: Waiter[] = []
  private waitersHead = 0
  private timer: NodeJS.Timeout | undefined
  private writes = 0
  private inFlight = 0
  /** Writes are settled in sequence order: outcomes that arrive early wait here. */
  private settledUpTo = 0
  private readonly outcomes = new Map<number, WriteOutcome>()
  private readonly roomWaiters: Array<() => void> = []
  private readonly idleWaiters: Array<() => void> = []

  constructor(opts: BatcherOptions) {
    this.opts = opts
    this.maxWrites = Math.max(1, opts.maxWritesInFlight ?? 2)
  }

  /** Readings buffered or being written, not yet durable. */
  get pending(): number {
    return this.buffer.length + this.inFlight
  }

  /**
   * Buffers one message's readings; `done` is called once they are all durable (or a write with
   * one of them failed), never synchronously from this call. A callback, not a promise: this runs
   * once per message, and a promise with its reactions per message was a few per cent of the
   * service's CPU in the ingest benchmark.
   */
  add(readings: readonly Reading[], done: AddDone): void {
    if (readings.length === 0) {
      queueMicrotask(() => done(false))
      return
    }
    if (this.pending >= this.opts.maxPending) {
      // Backpressure: wait for room, then try again (others may have taken it first).
      this.roomWaiters.push(() => this.add(readings, done))
      return
    }
    const startSeq = this.bufferStartSeq + this.buffer.length
    for (const r of readings) this.buffer.push(r)
    this.waiters.push({ startSeq, endSeq: this.bufferStartSeq + this.buffer.length, done })
    this.flushSoon(this.buffer.length >= this.opts.maxReadings ? 0 : this.opts.maxWaitMs)
  }

  /** Resolves once everything added so far is durable (or failed). */
  async drain(): Promise<void> {
    if (this.pending === 0 && this.writes === 0) return
    this.flushSoon(0)
    await new Promise<void>((resolve) => this.idleWaiters.push(resolve))
  }

  private flushSoon(delayMs: number): void {
    if (this.writes >= this.maxWrites) return // a finishing write flushes the rest
    if (delayMs === 0) {
      if (this.timer) clearTimeout(this.timer)
      this.timer = undefined
      setImmediate(() => this.flush())
      return
    }
    this.timer ??= setTimeout(() => {
      this.timer = undefined
      this.flush()
    }, delayMs)
  }

  private flush(): void {
    while (this.writes < this.maxWrites && this.buffer.length > 0) {
      if (this.timer) clearTimeout(this.timer)
      this.timer = undefined
      const take = Math.min(this.buffer.length, this.opts.maxReadings)
      const batch = take === this.buffer.length ? this.buffer : this.buffer.slice(0, take)
      this.buffer = take === this.buffer.length ? [] : this.buffer.slice(take)
      const startSeq = this.bufferStartSeq
      const endSeq = startSeq + take
      this.bufferStartSeq = endSeq
      this.writes++
      this.inFlight += take
      void this.write(batch, startSeq, endSeq)
      // A small remainder waits for more (up to maxWaitMs) rather than going out as a tiny write.
      if (this.buffer.length < this.opts.maxReadings) break
    }
    if (this.buffer.length > 0) this.flushSoon(this.opts.maxWaitMs)
  }

  private async write(batch: Reading[], startSeq: number, endSeq: number): Promise<void> {
    const started = performance.now()
    let outcome: WriteOutcome
    try {
      await this.opts.store.write(batch)
      this.opts.onWrite?.(batch.length, (performance.now() - started) / 1000)
      outcome = { startSeq, endSeq, failed: false }
    } catch (error) {
      // A partial write stored all but the refused readings: their messages are settled one by one.
      outcome =
        error instanceof StorePartialWriteError
          ? { startSeq, endSeq, failed: false, refused: error.refusedReadings }
          : { startSeq, endSeq, failed: true, error }
      if (outcome.failed) this.opts.onWriteFailed?.(error)
    }
    this.outcomes.set(startSeq, outcome)
    this.settle()
    this.writes--
    this.inFlight -= batch.length
    for (const wake of this.roomWaiters.splice(0)) wake()
    // What arrived during the write has waited long enough: write it next.
    if (this.buffer.length > 0) this.flushSoon(0)
    else if (this.writes === 0) for (const idle of this.idleWaiters.splice(0)) idle()
  }

  /**
   * Settle waiters write by write, in sequence order. Success: every message ending within the
   * write is durable, but for the readings a partial write refused for good, which each message
   * is told about. Failure: every message with a reading in it fails (its other readings may be
   * stored; the resend is harmless because the stores are idempotent).
   */
  private settle(): void {
    for (let o = this.outcomes.get(this.settledUpTo); o; o = this.outcomes.get(this.settledUpTo)) {
      this.outcomes.delete(this.settledUpTo)
      const w = this.waiters
      const head = this.waitersHead
      if (o.refused) this.assignRefused(o)
      let end = head
      if (!o.failed) while (end < w.length && w[end]!.endSeq <= o.endSeq) end++
      else while (end < w.length && (end === head || w[end - 1]!.endSeq < o.endSeq)) end++
      // Taken off before any callback runs: a callback may add (and a write settle) meanwhile.
      this.waitersHead = end
      this.settledUpTo = o.endSeq
      for (let i = head; i < end; i++) this.settleOne(w[i]!, o)
      this.dropSettled()
    }
  }

  private settleOne(waiter: Waiter, o: WriteOutcome): void {
    try {
      waiter.done(o.failed, o.error, o.failed ? undefined : waiter.refused)
    } catch (err) {
      // A caller's callback must not stop the others from being settled.
      log.error({ err }, 'a callback of a settled write failed')
    }
  }

  /** Drops settled waiters from the front once they are at least half the array. */
  private dropSettled(): void {
    const head = this.waitersHead
    if (head === 0) return
    if (head === this.waiters.length) this.waiters = []
    else if (head * 2 >= this.waiters.length) this.waiters = this.waiters.slice(head)
    else return
    this.waitersHead = 0
  }

  /** Hands each refused reading of a partial write to the message it came in (waiters are in order). */
  private assignRefused(o: WriteOutcome): void {
    const w = this.waiters
    const refused = [...o.refused!].sort((a, b) => a.index - b.index)
    let k = this.waitersHead
    for (const r of refused) {
      const seq = o.startSeq + r.index
      while (k < w.length && w[k]!.endSeq <= seq) k++
      const waiter = w[k]
      if (!waiter || seq < waiter.startSeq) continue
      waiter.refused ??= []
      waiter.refused.push({ index: seq - waiter.startSeq, message: r.message })
    }
  }
}
