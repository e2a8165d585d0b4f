import { join } from 'node:path'
import type Database from 'better-sqlite3'
import { isRetryable, KampungError } from '../../errors.ts'
import { openSqlite, privateDir, sqliteFault } from '../../files.ts'
import { getLogger } from '../../log.ts'
import type { Quantity, Reading } from '../../telemetry/index.ts'
import { InFlight } from '../in-flight.ts'
import type { ReadingQuery, TelemetryStore } from '../types.ts'

export interface SpoolWriteEvent {
  /** `direct`: stored by the inner store; `spooled`: durable in the spool, to be drained later. */
  path: 'direct' | 'spooled'
  readings: number
  durationMs: number
}

export interface SpoolingStoreOptions {
  /** The store the spool protects (InfluxStore in production); it is started and stopped with this one. */
  inner: TelemetryStore
  /** Data directory; the spool is `<dir>/<fileName>`. */
  dir: string
  fileName?: string
  /** First retry delay of the drainer after a failure. Default 250 ms. */
  initialBackoffMs?: number
  /** Cap of the drainer's exponential backoff. Default 10 000 ms. */
  maxBackoffMs?: number
  /** How long stop() keeps trying to drain before leaving the rest on disk. Default 2 000 ms. */
  stopDrainTimeoutMs?: number
  /** Readings per inner write while draining (several spooled batches coalesced). Default 5 000. */
  maxReadingsPerDrain?: number
  /** For metrics: called after every successful write(). */
  onWrite?: (event: SpoolWriteEvent) => void
}

export interface SpoolDepth {
  /** Batches (and their readings) waiting to be written to the inner store. */
  batches: number
  readings: number
  /** Batches the inner store refused for good (not retryable); kept on disk for inspection. */
  deadBatches: number
}

/** What is wrong right now, for /health; empty when nothing is. */
export interface SpoolFaults {
  /** The inner store (InfluxDB) fails retryably: writes go to the spool. */
  peer?: { error: string; sinceMs: number }
  /**
   * The spool's own file cannot be written (a full or failing local disk): while the peer is up,
   * writes go straight to it; while it is down, writes are refused (not acknowledged).
   */
  localDisk?: { error: string; sinceMs: number }
  /** Batches written to the inner store whose rows could not be deleted yet (sent again after a restart: harmless). */
  undeletedBatches: number
}

const defaultOptions = {
  fileName: 'spool.sqlite',
  initialBackoffMs: 250,
  maxBackoffMs: 10_000,
  stopDrainTimeoutMs: 2_000,
  maxReadingsPerDrain: 5_000,
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS batches (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  created_ms INTEGER NOT NULL,
  n INTEGER NOT NULL,
  readings TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS dead_batches (
  id INTEGER PRIMARY KEY,
  created_ms INTEGER NOT NULL,
  failed_ms INTEGER NOT NULL,
  n INTEGER NOT NULL,
  readings TEXT NOT NULL,
  error TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS probe (
  id INTEGER PRIMARY KEY,
  at_ms INTEGER NOT NULL
);
`

/** Compact on-disk form of a reading: [timeMs, village, device, sensor, quantity, value]. */
type SpooledReading = [number, string, string, string, Quantity, number]

const toSpooled = (r: Reading): SpooledReading => [
  r.timeMs,
  r.village,
  r.device,
  r.sensor,
  r.quantity,
  r.value,
]
const fromSpooled = ([timeMs, village, device, sensor, quantity, value]: SpooledReading): Reading => ({
  timeMs,
  village,
  device,
  sensor,
  quantity,
  value,
})

interface BatchRow {
  id: number
  n: number
  readings: string
}

/**
 * Wraps a TelemetryStore so that a write resolves as soon as the readings are durable: in the
 * inner store, or, while the inner store fails with a retryable error, in an on-disk spool
 * (SQLite, synchronous=FULL) that a background drainer replays oldest-first when the peer is back.
 * While the spool holds anything, new writes go behind it, in order. Redelivery after a crash is
 * harmless because inner stores are idempotent. Queries go to the inner store (spooled readings
 * become visible once drained).
 */
export class SpoolingStore implements TelemetryStore {
  readonly name: string
  private readonly inner: TelemetryStore
  private readonly options: Required<Omit<SpoolingStoreOptions, 'onWrite' | 'inner'>> &
    Pick<SpoolingStoreOptions, 'onWrite'>
  private readonly log = getLogger('store')

  private db: Database.Database | undefined
  private innerStarted = false
  private depth: SpoolDepth = { batches: 0, readings: 0, deadBatches: 0 }
  /** Rows with id up to here are settled (written to the inner store, or buried) but maybe not deleted. */
  private settledThroughId = 0
  private undeletedBatches = 0
  /** Batches refused for good whose move to dead_batches waits for disk space. */
  private unburied: Array<{ id: number; error: string }> = []
  private peerFault: { error: string; sinceMs: number } | undefined
  private localFault: { error: string; sinceMs: number } | undefined
  /** Writes run as they come (the WriteBatcher limits them); stop() waits for these. */
  private readonly writes = new InFlight()

  private stopping = false
  private timer: NodeJS.Timeout | undefined
  private draining: Promise<void> | undefined
  private backoffMs: number
  /** Set when the peer went down (logged once); cleared with one log line when the spool drained. */
  private outage: { readingsDrained: number } | undefined

  constructor({ inner, ...options }: SpoolingStoreOptions) {
    this.inner = inner
    this.name = `spool(${inner.name})`
    this.options = { ...defaultOptions, ...options }
    this.backoffMs = this.options.initialBackoffMs
  }

  async start(): Promise<void> {
    if (this.db) return
    privateDir(this.options.dir)
    // 0600, WAL, checked: a damaged spool or write-ahead log is refused by name (src/files.ts),
    // never opened with acknowledged readings silently missing.
    const db = openSqlite(this.file, {
      what: 'spool',
      quickCheck: true,
      init: (db) => {
        // FULL: a batch is on disk before write() resolves, and survives kill -9 and power loss.
        db.pragma('synchronous = FULL')
        db.exec(SCHEMA)
      },
    })
    this.db = db
    this.settledThroughId = 0
    this.undeletedBatches = 0
    this.unburied = []
    this.stopping = false
    this.refreshDepth()
    if (this.depth.batches > 0) {
      this.log.info(
        { batches: this.depth.batches, readings: this.depth.readings },
        'spool from a previous run, draining',
      )
      this.outage = { readingsDrained: 0 }
    }
    await this.startInner()
    this.scheduleDrain(0)
  }

  async stop(): Promise<void> {
    if (!this.db || this.stopping) return
    this.stopping = true
    clearTimeout(this.timer)
    this.timer = undefined
    await this.writes.idle()
    const deadline = Date.now() + this.options.stopDrainTimeoutMs
    const inFlight = this.draining
    if (inFlight) await raceDeadline(inFlight, deadline)
    if (!this.draining && this.depth.batches > 0) {
      // One last bounded attempt; what is left stays on disk and drains at the next start.
      const last = this.drainLoop(deadline)
      this.draining = last.finally(() => {
        this.draining = undefined
      })
      await raceDeadline(last, deadline)
    }
    if (this.depth.batches > 0) {
      this.log.warn(
        { batches: this.depth.batches, readings: this.depth.readings },
        'spool left on disk at stop',
      )
    }
    this.db.close()
    this.db = undefined
    if (this.innerStarted) await this.inner.stop()
    this.innerStarted = false
  }

  write(readings: readonly Reading[]): Promise<void> {
    return this.writes.track(this.writeNow(readings))
  }

  query(q: ReadingQuery): Promise<Reading[]> {
    return this.inner.query(q)
  }

  count(q: ReadingQuery): Promise<number> {
    return this.inner.count(q)
  }

  /** The spool file. */
  get file(): string {
    return join(this.options.dir, this.options.fileName)
  }

  /** What is wrong now (peer down, local disk failing), for /health. */
  faults(): SpoolFaults {
    return {
      ...(this.peerFault ? { peer: { ...this.peerFault } } : {}),
      ...(this.localFault ? { localDisk: { ...this.localFault } } : {}),
      undeletedBatches: this.undeletedBatches,
    }
  }

  get retentionMs(): number | undefined {
    return this.inner.retentionMs
  }

  spoolDepth(): SpoolDepth {
    return { ...this.depth }
  }

  // --- write path ---

  private async writeNow(readings: readonly Reading[]): Promise<void> {
    if (!this.db || this.stopping) {
      throw new KampungError('store_stopped', `${this.name} is not running`, { retryable: true })
    }
    if (readings.length === 0) return
    const started = performance.now()
    // Straight to the peer when the spool is empty (rows drained but not yet deleted do not count)
    // and the peer is not known to be down; behind the spool while it drains; and straight to the
    // peer whenever the spool's own disk fails, so a local disk problem never blocks a healthy peer
    // (points are keyed, so the order in which batches land does not matter).
    const tryPeer =
      this.innerStarted && !this.peerFault && (this.depth.batches === 0 || this.localFault !== undefined)
    if (tryPeer) {
      try {
        await this.writeDirect(readings, started)
        return
      } catch (err) {
        if (!isRetryable(err)) throw err
        this.peerDown(err)
      }
    }
    try {
      this.append(readings)
    } catch (err) {
      const fault = this.localDiskFailed(err)
      // The spool's disk cannot take them: the peer is the only way, and it may be back by now.
      if (!tryPeer && this.innerStarted) {
        try {
          await this.writeDirect(readings, started)
          return
        } catch (peerErr) {
          if (!isRetryable(peerErr)) throw peerErr
        }
      }
      // Neither the peer nor the local disk took them: refused, so not acknowledged (sent again).
      throw fault
    }
    this.localDiskOk()
    this.options.onWrite?.({
      path: 'spooled',
      readings: readings.length,
      durationMs: performance.now() - started,
    })
    if (!this.timer && !this.draining) this.scheduleDrain(this.backoffMs)
  }

  private async writeDirect(readings: readonly Reading[], started: number): Promise<void> {
    await this.inner.write(readings)
    this.peerUp()
    this.options.onWrite?.({
      path: 'direct',
      readings: readings.length,
      durationMs: performance.now() - started,
    })
  }

  private append(readings: readonly Reading[]): void {
    const db = this.db!
    db.prepare('INSERT INTO batches (created_ms, n, readings) VALUES (?, ?, ?)').run(
      Date.now(),
      readings.length,
      JSON.stringify(readings.map(toSpooled)),
    )
    this.depth.batches += 1
    this.depth.readings += readings.length
  }

  private peerDown(err: unknown): void {
    this.peerFault ??= { error: String(err), sinceMs: Date.now() }
    if (this.outage) return
    this.outage = { readingsDrained: 0 }
    this.log.warn({ store: this.inner.name, err: String(err) }, `${this.inner.name} unreachable, spooling`)
  }

  private peerUp(): void {
    this.peerFault = undefined
  }

  /** The spool's file failed (SQLITE_FULL, I/O): logged once as the local disk's problem, not the peer's. */
  private localDiskFailed(err: unknown): KampungError {
    const fault = sqliteFault(err, this.file, 'spool')
    if (!this.localFault) {
      this.localFault = { error: fault.message, sinceMs: Date.now() }
      queueMicrotask(() => this.scheduleDrain(this.backoffMs))
      this.log.error(
        { file: this.file, code: fault.code, err: fault.message, peerUp: !this.peerFault },
        `spool file cannot be written (local disk, not ${this.inner.name})`,
      )
    }
    return fault
  }

  private localDiskOk(): void {
    if (!this.localFault) return
    this.log.info(
      { file: this.file, failedForMs: Date.now() - this.localFault.sinceMs },
      'spool file writable again',
    )
    this.localFault = undefined
  }

  // --- drainer ---

  private scheduleDrain(delayMs: number): void {
    if (this.stopping || !this.db || this.timer || this.draining) return
    if (!this.drainWork()) return
    this.timer = setTimeout(() => {
      this.timer = undefined
      this.draining = this.drainLoop(Number.POSITIVE_INFINITY).finally(() => {
        this.draining = undefined
        if (this.drainWork()) this.scheduleDrain(this.backoffMs)
      })
    }, delayMs)
  }

  /** Batches to send, rows to delete or bury, or the inner store still to start. */
  private drainWork(): boolean {
    return (
      this.depth.batches > 0 ||
      this.undeletedBatches > 0 ||
      this.unburied.length > 0 ||
      this.localFault !== undefined ||
      !this.innerStarted
    )
  }

  /** A small write to the spool's file: clears the local disk fault once it succeeds. */
  private probeLocalDisk(): void {
    if (!this.localFault || !this.db) return
    try {
      this.db.prepare('INSERT OR REPLACE INTO probe (id, at_ms) VALUES (1, ?)').run(Date.now())
    } catch (err) {
      this.localDiskFailed(err)
      return
    }
    this.localDiskOk()
  }

  private backoff(): void {
    this.backoffMs = Math.min(this.backoffMs * 2, this.options.maxBackoffMs)
  }

  /**
   * Drains until the spool is empty, a failure (backoff grows), the deadline, or stop(). A failure
   * of the inner store is the peer's (logged once as such); a failure of the spool's own file is
   * the local disk's: what was written to the peer stays settled and its rows are deleted later.
   */
  private async drainLoop(deadline: number): Promise<void> {
    try {
      if (!this.innerStarted) await this.startInner(true)
    } catch (err) {
      this.peerDown(err)
      this.backoff()
      return
    }
    try {
      this.deleteSettled()
      this.probeLocalDisk()
      while (this.db && this.depth.batches > 0 && Date.now() < deadline) {
        if (this.stopping && deadline === Number.POSITIVE_INFINITY) return
        const rows = this.oldestBatches()
        if (rows.length === 0) break
        const readings = rows.flatMap((row) =>
          (JSON.parse(row.readings) as SpooledReading[]).map(fromSpooled),
        )
        try {
          await this.inner.write(readings)
        } catch (err) {
          if (isRetryable(err)) {
            this.peerDown(err)
            this.backoff()
            return
          }
          if (!this.db) return
          // Refused for good: with several batches coalesced, find the bad one by retrying singly.
          if (rows.length > 1) {
            if (!(await this.drainSingly(rows))) return
            continue
          }
          this.bury(rows[0]!, err)
          continue
        }
        if (!this.db) return // stopped meanwhile: the batches stay and are redelivered next start
        this.peerUp()
        this.settle(rows)
        this.backoffMs = this.options.initialBackoffMs
        if (this.outage) this.outage.readingsDrained += readings.length
      }
      if (this.db && this.depth.batches === 0 && this.outage) {
        this.log.info(
          { store: this.inner.name, readings: this.outage.readingsDrained },
          `${this.inner.name} back, spool drained`,
        )
        this.outage = undefined
      }
      // Rows the full disk would not let us delete, or its file failing: try again after a while.
      if (this.undeletedBatches > 0 || this.unburied.length > 0 || this.localFault) this.backoff()
    } catch (err) {
      // Not the peer: reading the spool's own file failed.
      this.localDiskFailed(err)
      this.backoff()
    }
  }

  /** Sends coalesced batches one by one; false when the peer failed retryably (stop draining). */
  private async drainSingly(rows: BatchRow[]): Promise<boolean> {
    for (const row of rows) {
      const readings = (JSON.parse(row.readings) as SpooledReading[]).map(fromSpooled)
      try {
        await this.inner.write(readings)
      } catch (err) {
        if (isRetryable(err)) {
          this.peerDown(err)
          this.backoff()
          return false
        }
        if (!this.db) return false
        this.bury(row, err)
        continue
      }
      if (!this.db) return false
      this.peerUp()
      this.settle([row])
      if (this.outage) this.outage.readingsDrained += readings.length
    }
    return true
  }

  private oldestBatches(): BatchRow[] {
    const rows: BatchRow[] = []
    let total = 0
    const iter = this.db!.prepare('SELECT id, n, readings FROM batches WHERE id > ? ORDER BY id').iterate(
      this.settledThroughId,
    ) as IterableIterator<BatchRow>
    for (const row of iter) {
      if (rows.length > 0 && total + row.n > this.options.maxReadingsPerDrain) break
      rows.push(row)
      total += row.n
    }
    return rows
  }

  /** Rows written to the inner store (all rows up to the last are settled): counted out, then deleted. */
  private settle(rows: BatchRow[]): void {
    this.settledThroughId = Math.max(this.settledThroughId, rows[rows.length - 1]!.id)
    this.depth.batches -= rows.length
    this.depth.readings -= rows.reduce((sum, row) => sum + row.n, 0)
    this.undeletedBatches += rows.length
    this.deleteSettled()
  }

  /**
   * Deletes the settled rows. On a full disk SQLite cannot even delete (the WAL grows first): the
   * rows stay, skipped by the drainer, and are deleted on a later pass; after a restart they are
   * sent once more, which the idempotent inner store absorbs.
   */
  private deleteSettled(): void {
    if (!this.db || !this.buryPending() || this.undeletedBatches === 0) return
    try {
      this.db.prepare('DELETE FROM batches WHERE id <= ?').run(this.settledThroughId)
    } catch (err) {
      this.localDiskFailed(err)
      return
    }
    this.undeletedBatches = 0
    this.localDiskOk()
  }

  /** Moves a batch the inner store refused for good out of the way, keeping it on disk. */
  private bury(row: BatchRow, err: unknown): void {
    this.settledThroughId = Math.max(this.settledThroughId, row.id)
    this.depth.batches -= 1
    this.depth.readings -= row.n
    this.depth.deadBatches += 1
    this.log.error(
      { store: this.inner.name, batch: row.id, readings: row.n, err: String(err) },
      'spooled batch refused',
    )
    this.unburied.push({ id: row.id, error: String(err) })
    this.buryPending()
  }

  /** Moves refused batches to dead_batches; false while the spool's file cannot be written. */
  private buryPending(): boolean {
    const db = this.db
    if (!db) return false
    while (this.unburied.length > 0) {
      const { id, error } = this.unburied[0]!
      try {
        db.transaction(() => {
          db.prepare(
            `INSERT INTO dead_batches (id, created_ms, failed_ms, n, readings, error)
             SELECT id, created_ms, ?, n, readings, ? FROM batches WHERE id = ?`,
          ).run(Date.now(), error, id)
          db.prepare('DELETE FROM batches WHERE id = ?').run(id)
        })()
      } catch (err) {
        this.localDiskFailed(err)
        return false
      }
      this.unburied.shift()
    }
    return true
  }

  private refreshDepth(): void {
    const db = this.db!
    const live = db.prepare('SELECT count(*) AS b, coalesce(sum(n), 0) AS r FROM batches').get() as {
      b: number
      r: number
    }
    const dead = db.prepare('SELECT count(*) AS b FROM dead_batches').get() as { b: number }
    this.depth = { batches: live.b, readings: live.r, deadBatches: dead.b }
  }

  /** Starts the inner store; a retryable failure leaves it to the drainer (we spool meanwhile). */
  private async startInner(rethrowRetryable = false): Promise<void> {
    try {
      await this.inner.start()
      this.innerStarted = true
      this.peerUp()
    } catch (err) {
      if (!isRetryable(err) || rethrowRetryable) throw err
      this.peerDown(err)
    }
  }
}

async function raceDeadline(p: Promise<unknown>, deadline: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  const wait = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, Math.max(0, deadline - Date.now()))
  })
  await Promise.race([p.catch(() => {}), wait])
  clearTimeout(timer)
}
