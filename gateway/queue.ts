import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { getLogger } from '../src/log.ts'

/** One entry of the native JSON backlog format: what a node measured at one time. */
export interface QueueEntry {
  /** Milliseconds since the epoch: the node's time, or the gateway's when the node has no clock. */
  ts: number
  sensor: string
  values: Record<string, number>
}

/** A queued entry as peeked: its queue id (for ack) and its JSON text, ready to send. */
export interface QueuedEntry {
  id: number
  device: string
  ts: number
  enqueuedAtMs: number
  /** `{"ts":…,"sensor":…,"values":{…}}`, exactly as it goes into the uplink payload. */
  json: string
}

/** The oldest entries of one device, in enqueue order. */
export interface QueueBatch {
  device: string
  entries: QueuedEntry[]
  /** Bytes of the JSON array these entries make: `[` + entries joined by `,` + `]`. */
  bytes: number
}

export type EnqueueResult =
  | { ok: true; ids: number[] }
  | { ok: false; reason: 'queue_full' | 'stopped'; message: string }

export interface PeekOptions {
  /** Only this device's entries (one batch); default: every device, one batch each. */
  device?: string
  /** Only entries with a larger id (those up to it are already in flight). */
  afterId?: number
  /** Cap of a batch's JSON size (the broker refuses payloads over 64 KiB). */
  maxBytes?: number
}

export interface QueueOptions {
  /** Directory of the queue file; created when missing. */
  dir: string
  fileName?: string
  /** Entries the queue holds at most; further enqueues are refused (counted, logged). */
  maxEntries?: number
  /** Bytes of entry JSON the queue holds at most (the file is larger by SQLite's overhead). */
  maxBytes?: number
  /** Command answers kept at most (defaultQueueOptions.maxAcks). */
  maxAcks?: number
  clock?: () => number
}

export const defaultQueueOptions = {
  fileName: 'gateway-queue.sqlite',
  // A village of 20 nodes reporting 4 quantities every 5 min makes ~6 000 entries a day: a million
  // entries is months of outage, and about 150 MB of disk — fine on an SD card.
  maxEntries: 1_000_000,
  maxBytes: 256 * 1024 * 1024,
  /** Rows read per peek query before the byte cap cuts the batch. */
  peekScanLimit: 1_000,
  /**
   * Command answers kept at most. A node answers a few commands a day; this many waiting means the
   * uplink has been down for months, and a further answer is refused (the service's resend and the
   * node's memory of done ids still recover it).
   */
  maxAcks: 10_000,
}

export interface QueueStats {
  entries: number
  bytes: number
  /** Enqueue time of the oldest entry still queued, or undefined when empty. */
  oldestEnqueuedAtMs: number | undefined
  /** Entries refused because the queue was full since start. */
  refusedFull: number
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS entries (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  device TEXT NOT NULL,
  ts INTEGER NOT NULL,
  enqueued_ms INTEGER NOT NULL,
  json TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS entries_device_id ON entries (device, id);
CREATE TABLE IF NOT EXISTS acks (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  device TEXT NOT NULL,
  enqueued_ms INTEGER NOT NULL,
  json TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS acks_device_id ON acks (device, id);
`

/** A node's answer to a command, kept until the broker has it (PUBACK). */
export interface QueuedAck {
  id: number
  device: string
  enqueuedAtMs: number
  /** `{"id","ok","error"?}`, exactly as it goes out on the node's ack topic. */
  json: string
}

interface Row {
  id: number
  device: string
  ts: number
  enqueued_ms: number
  json: string
}

/**
 * The gateway's durable FIFO of node entries: SQLite in WAL mode with synchronous=FULL, so an
 * entry is on disk when enqueue() returns and survives kill -9 and power loss. Entries leave only
 * through ack(), which the uplink calls after the broker's PUBACK (= stored). Bounded: when full,
 * enqueue refuses new entries (counted in refusedFull, logged once per full spell) and keeps what
 * it holds — the backlog already queued is never dropped to make room.
 */
export class GatewayQueue {
  private readonly opts: Required<Omit<QueueOptions, 'clock'>> & { clock: () => number }
  private readonly log = getLogger('gateway.queue')
  private db: Database.Database | undefined
  private entries = 0
  private bytes = 0
  private refusedFull = 0
  private full = false
  private statements:
    | {
        insert: Database.Statement<[string, number, number, string]>
        del: Database.Statement<[number]>
        oldest: Database.Statement<[], { enqueued_ms: number } | undefined>
        peekDevice: Database.Statement<[string, number, number], Row>
        devices: Database.Statement<[number], { device: string; first: number }>
        insertAck: Database.Statement<[string, number, string]>
        acksOf: Database.Statement<
          [string],
          { id: number; device: string; enqueued_ms: number; json: string }
        >
        delAck: Database.Statement<[number]>
        ackCount: Database.Statement<[], number>
      }
    | undefined

  constructor(opts: QueueOptions) {
    this.opts = { ...defaultQueueOptions, clock: Date.now, ...opts }
  }

  start(): void {
    if (this.db) return
    mkdirSync(this.opts.dir, { recursive: true })
    const db = new Database(join(this.opts.dir, this.opts.fileName))
    db.pragma('journal_mode = WAL')
    // FULL: the WAL is fsynced at every commit, so an entry is durable when enqueue() returns.
    db.pragma('synchronous = FULL')
    db.exec(SCHEMA)
    const totals = db
      .prepare('SELECT COUNT(*) AS n, COALESCE(SUM(LENGTH(json)), 0) AS b FROM entries')
      .get() as {
      n: number
      b: number
    }
    this.entries = totals.n
    this.bytes = totals.b
    this.statements = {
      insert: db.prepare('INSERT INTO entries (device, ts, enqueued_ms, json) VALUES (?, ?, ?, ?)'),
      del: db.prepare('DELETE FROM entries WHERE id = ? RETURNING LENGTH(json) AS b') as Database.Statement<
        [number]
      >,
      oldest: db.prepare('SELECT enqueued_ms FROM entries ORDER BY id LIMIT 1'),
      peekDevice: db.prepare(
        'SELECT id, device, ts, enqueued_ms, json FROM entries WHERE device = ? AND id > ? ORDER BY id LIMIT ?',
      ),
      // Devices with entries after afterId, the device whose oldest entry is oldest first.
      devices: db.prepare(
        'SELECT device, MIN(id) AS first FROM entries WHERE id > ? GROUP BY device ORDER BY first',
      ),
      insertAck: db.prepare('INSERT INTO acks (device, enqueued_ms, json) VALUES (?, ?, ?)'),
      acksOf: db.prepare('SELECT id, device, enqueued_ms, json FROM acks WHERE device = ? ORDER BY id'),
      delAck: db.prepare('DELETE FROM acks WHERE id = ?'),
      ackCount: db.prepare('SELECT COUNT(*) FROM acks').pluck() as Database.Statement<[], number>,
    }
    this.db = db
    if (this.entries > 0) this.log.info({ entries: this.entries }, 'queue from a previous run')
  }

  stop(): void {
    this.db?.close()
    this.db = undefined
    this.statements = undefined
  }

  /** Store entries of one device in one transaction; all or none. Durable when it returns ok. */
  enqueue(device: string, entries: readonly QueueEntry[]): EnqueueResult {
    const s = this.statements
    if (!s || !this.db) return { ok: false, reason: 'stopped', message: 'the queue is not running' }
    const texts = entries.map((e) => JSON.stringify({ ts: e.ts, sensor: e.sensor, values: e.values }))
    const addBytes = texts.reduce((sum, t) => sum + t.length, 0)
    if (this.entries + entries.length > this.opts.maxEntries || this.bytes + addBytes > this.opts.maxBytes) {
      this.refusedFull += entries.length
      if (!this.full) {
        this.full = true
        this.log.error(
          {
            entries: this.entries,
            bytes: this.bytes,
            maxEntries: this.opts.maxEntries,
            maxBytes: this.opts.maxBytes,
          },
          'queue full: refusing new readings until the uplink drains it (logged once per full spell)',
        )
      }
      return {
        ok: false,
        reason: 'queue_full',
        message: `queue full (${this.entries} entries, ${this.bytes} bytes); reading refused`,
      }
    }
    const now = this.opts.clock()
    const ids: number[] = []
    this.db.transaction(() => {
      entries.forEach((e, i) => {
        ids.push(Number(s.insert.run(device, e.ts, now, texts[i]!).lastInsertRowid))
      })
    })()
    this.entries += entries.length
    this.bytes += addBytes
    return { ok: true, ids }
  }

  /**
   * The oldest entries, at most `maxEntries` (and `maxBytes` of JSON) per device, grouped per
   * device, the device with the oldest entry first. Peeking does not remove anything.
   */
  peek(maxEntries: number, options: PeekOptions = {}): QueueBatch[] {
    const s = this.statements
    if (!s) return []
    const afterId = options.afterId ?? 0
    const devices =
      options.device !== undefined ? [options.device] : s.devices.all(afterId).map((d) => d.device)
    const batches: QueueBatch[] = []
    for (const device of devices) {
      const batch = this.peekDevice(device, afterId, maxEntries, options.maxBytes ?? Number.POSITIVE_INFINITY)
      if (batch.entries.length > 0) batches.push(batch)
    }
    return batches
  }

  private peekDevice(device: string, afterId: number, maxEntries: number, maxBytes: number): QueueBatch {
    const rows = this.statements!.peekDevice.all(
      device,
      afterId,
      Math.min(maxEntries, defaultQueueOptions.peekScanLimit),
    )
    const entries: QueuedEntry[] = []
    let bytes = 2 // the array brackets
    for (const r of rows) {
      const add = r.json.length + (entries.length > 0 ? 1 : 0)
      // Always at least one entry, so an oversized one cannot block the queue forever (the broker
      // refuses it; enqueue callers keep entries far below the limit).
      if (entries.length > 0 && bytes + add > maxBytes) break
      entries.push({ id: r.id, device: r.device, ts: r.ts, enqueuedAtMs: r.enqueued_ms, json: r.json })
      bytes += add
    }
    return { device, entries, bytes }
  }

  /** Delete entries the uplink confirmed; unknown ids (already acked) are ignored. */
  ack(ids: readonly number[]): void {
    const s = this.statements
    if (!s || !this.db || ids.length === 0) return
    let removed = 0
    let removedBytes = 0
    this.db.transaction(() => {
      for (const id of ids) {
        const row = s.del.get(id) as { b: number } | undefined
        if (row) {
          removed++
          removedBytes += row.b
        }
      }
    })()
    this.entries -= removed
    this.bytes -= removedBytes
    if (this.full && this.entries < this.opts.maxEntries && this.bytes < this.opts.maxBytes) {
      this.full = false
      this.log.info({ entries: this.entries, refusedFull: this.refusedFull }, 'queue has room again')
    }
  }

  /**
   * Keep a node's answer to a command until the broker has it: the same guarantee as a reading
   * (durable when it returns ok, across kill -9 and power loss), in the same file.
   */
  enqueueAck(device: string, json: string): EnqueueResult {
    const s = this.statements
    if (!s) return { ok: false, reason: 'stopped', message: 'the queue is not running' }
    if (s.ackCount.get()! >= this.opts.maxAcks)
      return { ok: false, reason: 'queue_full', message: `${this.opts.maxAcks} command answers queued` }
    return { ok: true, ids: [Number(s.insertAck.run(device, this.opts.clock(), json).lastInsertRowid)] }
  }

  /** A node's queued answers, oldest first. */
  acksOf(device: string): QueuedAck[] {
    return (this.statements?.acksOf.all(device) ?? []).map((r) => ({
      id: r.id,
      device: r.device,
      enqueuedAtMs: r.enqueued_ms,
      json: r.json,
    }))
  }

  /** The broker has this answer (PUBACK): it leaves the queue. */
  ackSent(id: number): void {
    this.statements?.delAck.run(id)
  }

  /** Command answers waiting for the uplink. */
  ackDepth(): number {
    return this.statements?.ackCount.get() ?? 0
  }

  depth(): number {
    return this.entries
  }

  stats(): QueueStats {
    const oldest = this.statements?.oldest.get()
    return {
      entries: this.entries,
      bytes: this.bytes,
      oldestEnqueuedAtMs: oldest?.enqueued_ms,
      refusedFull: this.refusedFull,
    }
  }
}
