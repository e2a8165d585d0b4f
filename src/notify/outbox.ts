import { randomBytes } from 'node:crypto'
import type Database from 'better-sqlite3'
import { Counter, Gauge, Histogram, Registry } from 'prom-client'
import { KampungError } from '../errors.ts'
import { openSqlite } from '../files.ts'
import { getLogger } from '../log.ts'
import type { Metrics } from '../metrics.ts'
import { defaultOutboxOptions } from './config.ts'
import { smsEncoding } from './encoding.ts'
import { isE164 } from './phone.ts'
import type {
  DeliveryReport,
  InboundSms,
  OutboundSms,
  OutboxFilter,
  OutboxRow,
  SmsCoding,
  SmsSender,
  SmsState,
} from './types.ts'

const log = getLogger('notify')

export interface OutboxOptions {
  /** SQLite file (created with its folder); `:memory:` for a throwaway outbox. */
  path: string
  sender: SmsSender
  clock?: () => number
  metrics?: Metrics
  /** First retry delay after a retryable failure; doubles per attempt up to retryMaxMs. */
  retryBaseMs?: number
  retryMaxMs?: number
  /** Submissions tried at most, then failed `max_attempts`. */
  maxAttempts?: number
  /** A message still not accepted this long after it was due fails `max_age`: old alerts are noise. */
  maxAgeMs?: number
  /** Segments per recipient per Asia/Jakarta day; over it a non-critical message fails `budget`. 0: no budget. */
  dailySegmentBudget?: number
  /**
   * How long a message whose submission may or may not have reached the gateway (crash mid-send,
   * lost answer) waits for a delivery report before it fails `in_doubt`. It is never resubmitted:
   * a duplicate is worse than asking the operator to look (the metric counts them).
   */
  inDoubtHoldMs?: number
  /** Timer loop period; 0: no timer (tests call dispatchDue themselves). */
  pollIntervalMs?: number
  /** Submissions in flight at once, so one slow number never holds the others. */
  maxInFlight?: number
  /** Send replies to numbers that are not registered farmers (`OutboundSms.unregistered`); off: failed `unregistered`. */
  unregisteredReplies?: boolean
  /** At most this many such replies per rolling hour, all numbers together; over it: failed `unregistered_rate`. */
  unregisteredRepliesPerHour?: number
}

/** Indonesia has kept UTC+7 in Java without DST since 1964, so the budget day is a fixed offset. */
const JAKARTA_OFFSET_MS = 7 * 3600_000

export function jakartaDay(ms: number): string {
  return new Date(ms + JAKARTA_OFFSET_MS).toISOString().slice(0, 10)
}

const HOUR_MS = 3_600_000

/** A submission's reference (SubmitRequest.ref): 16 random bytes, so no report can guess one. */
function newRef(): string {
  return randomBytes(16).toString('base64url')
}

/** State order: a report never moves a message backwards (DLRs can arrive out of order). */
const RANK: Record<SmsState, number> = { queued: 0, sending: 1, accepted: 2, delivered: 3, failed: 3 }

const SCHEMA = `
CREATE TABLE IF NOT EXISTS sms_outbox (
  id              INTEGER PRIMARY KEY AUTOINCREMENT,
  key             TEXT NOT NULL UNIQUE,
  to_addr         TEXT NOT NULL,
  text            TEXT NOT NULL,
  coding          TEXT NOT NULL,
  segments        INTEGER NOT NULL,
  critical        INTEGER NOT NULL,
  state           TEXT NOT NULL,
  reason          TEXT,
  detail          TEXT,
  attempts        INTEGER NOT NULL DEFAULT 0,
  gateway_id      TEXT,
  created_ms      INTEGER NOT NULL,
  updated_ms      INTEGER NOT NULL,
  not_before_ms   INTEGER NOT NULL,
  next_attempt_ms INTEGER NOT NULL,
  accepted_ms     INTEGER,
  delivered_ms    INTEGER,
  budget_day      TEXT
);
CREATE INDEX IF NOT EXISTS sms_outbox_due ON sms_outbox(state, next_attempt_ms);
CREATE INDEX IF NOT EXISTS sms_outbox_budget ON sms_outbox(to_addr, budget_day);
CREATE INDEX IF NOT EXISTS sms_outbox_gateway ON sms_outbox(gateway_id);
CREATE TABLE IF NOT EXISTS sms_inbox (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  from_addr   TEXT NOT NULL,
  to_addr     TEXT NOT NULL,
  text        TEXT NOT NULL,
  via         TEXT NOT NULL,
  received_ms INTEGER NOT NULL
);
`

/** Columns added after the first release: added to an existing outbox at start. */
const ADDED_COLUMNS: Record<string, string> = {
  dlr_ref: 'TEXT',
  unregistered: 'INTEGER NOT NULL DEFAULT 0',
}

interface DbRow {
  id: number
  key: string
  to_addr: string
  text: string
  coding: SmsCoding
  segments: number
  critical: number
  state: SmsState
  reason: string | null
  detail: string | null
  attempts: number
  gateway_id: string | null
  created_ms: number
  updated_ms: number
  not_before_ms: number
  next_attempt_ms: number
  accepted_ms: number | null
  delivered_ms: number | null
  budget_day: string | null
  dlr_ref: string | null
  unregistered: number
}

function toRow(r: DbRow): OutboxRow {
  return {
    id: r.id,
    key: r.key,
    to: r.to_addr,
    text: r.text,
    coding: r.coding,
    segments: r.segments,
    critical: r.critical === 1,
    state: r.state,
    reason: r.reason ?? undefined,
    detail: r.detail ?? undefined,
    attempts: r.attempts,
    gatewayId: r.gateway_id ?? undefined,
    createdMs: r.created_ms,
    updatedMs: r.updated_ms,
    notBeforeMs: r.not_before_ms,
    nextAttemptMs: r.next_attempt_ms,
    acceptedMs: r.accepted_ms ?? undefined,
    deliveredMs: r.delivered_ms ?? undefined,
    budgetDay: r.budget_day ?? undefined,
  }
}

interface OutboxMetrics {
  queued: Counter
  accepted: Counter<'sender'>
  delivered: Counter
  failed: Counter<'reason'>
  retries: Counter<'cause'>
  inbound: Counter<'via'>
  reports: Counter<'outcome'>
  submitSeconds: Histogram
}

/**
 * The durable SMS outbox. `enqueue` writes the message to SQLite before it returns; the dispatch
 * loop submits what is due, each message on its own (state, attempts, backoff), so one bad number
 * or a dead gateway never blocks the rest; delivery reports move messages on.
 *
 * The exact guarantee on duplicates: a message is marked `sending` durably before it is handed to
 * the gateway. A message the gateway accepted (its answer, or any report for it) is never
 * submitted again. A message whose submission was cut off (crash, lost answer: `in_doubt`) may or
 * may not be at the gateway: it waits inDoubtHoldMs for a report that settles it, and otherwise
 * fails `in_doubt` without a resend (at most once; a late report still moves it to delivered).
 */
export class Outbox {
  private readonly opts: OutboxOptions & typeof defaultOutboxOptions
  private readonly clock: () => number
  private db: Database.Database | undefined
  private timer: NodeJS.Timeout | undefined
  private dispatching: Promise<number> | undefined
  private rerun = false
  private readonly inboundHandlers: Array<(mo: InboundSms) => void | Promise<void>> = []
  private m: OutboxMetrics | undefined

  constructor(opts: OutboxOptions) {
    this.opts = { ...defaultOutboxOptions, ...stripUndefined(opts) }
    this.clock = opts.clock ?? Date.now
  }

  get sender(): SmsSender {
    return this.opts.sender
  }

  /** Opens the outbox, settles what a crash left mid-send, starts the sender and the dispatch loop. */
  async start(): Promise<void> {
    // 0600 (phone numbers, message texts); a damaged file or write-ahead log is refused by name.
    const db = openSqlite(this.opts.path, { what: 'SMS outbox' })
    db.pragma('synchronous = FULL') // enqueue promises durability on return
    // One IMMEDIATE transaction: two processes opening one outbox file at once (state workers
    // wrongly sharing it) take turns, and the second sees the columns the first added.
    db.transaction(() => {
      db.exec(SCHEMA)
      const have = new Set(
        (db.prepare('PRAGMA table_info(sms_outbox)').all() as Array<{ name: string }>).map((c) => c.name),
      )
      for (const [name, type] of Object.entries(ADDED_COLUMNS)) {
        if (!have.has(name)) db.exec(`ALTER TABLE sms_outbox ADD COLUMN ${name} ${type}`)
      }
      db.exec('CREATE UNIQUE INDEX IF NOT EXISTS sms_outbox_ref ON sms_outbox(dlr_ref)')
    }).immediate()
    this.db = db
    this.m = this.createMetrics()
    const now = this.clock()
    // Rows left `sending` by a previous process: the gateway may have them. Hold, never resend.
    const inDoubt = db
      .prepare(
        `UPDATE sms_outbox SET reason = 'in_doubt', detail = 'process stopped during submission',
         next_attempt_ms = ?, updated_ms = ? WHERE state = 'sending'`,
      )
      .run(now + this.opts.inDoubtHoldMs, now).changes
    if (inDoubt > 0)
      log.warn({ inDoubt }, 'messages were mid-send when the process stopped; holding them for reports')
    this.opts.sender.onDeliveryReport((r) => this.applyReport(r))
    this.opts.sender.onInbound((mo) => void this.receive(mo))
    await this.opts.sender.start()
    if (this.opts.pollIntervalMs > 0) {
      this.timer = setInterval(() => this.kick(), this.opts.pollIntervalMs)
      this.timer.unref()
      this.kick()
    }
  }

  /** Stops the loop, waits for submissions in flight, stops the sender, closes the file. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer)
    this.timer = undefined
    this.rerun = false
    await this.dispatching?.catch(() => 0)
    await this.opts.sender.stop()
    this.db?.close()
    this.db = undefined
  }

  /** Durable on return. The same key again returns the existing message (`duplicate: true`). */
  enqueue(msg: OutboundSms): { id: number; state: SmsState; duplicate: boolean } {
    const db = this.open()
    if (typeof msg.key !== 'string' || msg.key.length === 0) {
      throw new KampungError('bad_request', 'an outbound SMS needs a non-empty key', { retryable: false })
    }
    const existing = db.prepare('SELECT id, state FROM sms_outbox WHERE key = ?').get(msg.key) as
      | { id: number; state: SmsState }
      | undefined
    if (existing) return { ...existing, duplicate: true }
    const now = this.clock()
    const text = typeof msg.text === 'string' ? msg.text : ''
    const enc = smsEncoding(text)
    const notBefore = Math.max(now, msg.notBeforeMs ?? now)
    let state: SmsState = 'queued'
    let reason: string | null = null
    let detail: string | null = null
    if (typeof msg.to !== 'string' || !isE164(msg.to)) {
      state = 'failed'
      reason = 'invalid_number'
      detail = `"${String(msg.to)}" is not an E.164 number (+<country><number>, at most 15 digits)`
    } else if (text.length === 0) {
      state = 'failed'
      reason = 'empty_text'
      detail = 'nothing to send'
    } else if (msg.unregistered && !this.opts.unregisteredReplies) {
      state = 'failed'
      reason = 'unregistered'
      detail = 'replies to unregistered numbers are off (notify.outbox.unregisteredReplies)'
    } else if (msg.unregistered) {
      const sent = (
        db
          .prepare(
            `SELECT COUNT(*) AS n FROM sms_outbox WHERE unregistered = 1 AND created_ms > ?
               AND (reason IS NULL OR reason NOT IN ('unregistered', 'unregistered_rate'))`,
          )
          .get(now - HOUR_MS) as { n: number }
      ).n
      if (sent >= this.opts.unregisteredRepliesPerHour) {
        state = 'failed'
        reason = 'unregistered_rate'
        detail = `${sent} replies to unregistered numbers in the last hour (notify.outbox.unregisteredRepliesPerHour)`
      }
    }
    const info = db
      .prepare(
        `INSERT INTO sms_outbox (key, to_addr, text, coding, segments, critical, state, reason, detail,
           created_ms, updated_ms, not_before_ms, next_attempt_ms, unregistered)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        msg.key,
        String(msg.to),
        text,
        enc.coding,
        enc.segments,
        msg.critical ? 1 : 0,
        state,
        reason,
        detail,
        now,
        now,
        notBefore,
        notBefore,
        msg.unregistered ? 1 : 0,
      )
    const id = Number(info.lastInsertRowid)
    this.m?.queued.inc()
    if (state === 'failed') {
      this.m?.failed.inc({ reason: reason! })
      log.info({ id, key: msg.key, reason }, 'SMS refused')
    } else {
      this.kick()
    }
    return { id, state, duplicate: false }
  }

  onInbound(handler: (mo: InboundSms) => void | Promise<void>): void {
    this.inboundHandlers.push(handler)
  }

  get(id: number): OutboxRow | undefined {
    const r = this.open().prepare('SELECT * FROM sms_outbox WHERE id = ?').get(id) as DbRow | undefined
    return r && toRow(r)
  }

  getByKey(key: string): OutboxRow | undefined {
    const r = this.open().prepare('SELECT * FROM sms_outbox WHERE key = ?').get(key) as DbRow | undefined
    return r && toRow(r)
  }

  list(filter: OutboxFilter = {}): OutboxRow[] {
    const where: string[] = []
    const args: unknown[] = []
    if (filter.state) {
      where.push('state = ?')
      args.push(filter.state)
    }
    if (filter.to) {
      where.push('to_addr = ?')
      args.push(filter.to)
    }
    if (filter.key) {
      where.push('key = ?')
      args.push(filter.key)
    }
    const sql = `SELECT * FROM sms_outbox ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id LIMIT ?`
    return (
      this.open()
        .prepare(sql)
        .all(...args, filter.limit ?? 1000) as DbRow[]
    ).map(toRow)
  }

  /** Messages received (MO), newest last. */
  inbox(limit = 100): Array<InboundSms & { id: number }> {
    const rows = this.open().prepare('SELECT * FROM sms_inbox ORDER BY id DESC LIMIT ?').all(limit) as Array<{
      id: number
      from_addr: string
      to_addr: string
      text: string
      via: string
      received_ms: number
    }>
    return rows.reverse().map((r) => ({
      id: r.id,
      from: r.from_addr,
      to: r.to_addr,
      text: r.text,
      via: r.via,
      receivedAtMs: r.received_ms,
    }))
  }

  /** Messages by state, for the depth gauge and /health. */
  depth(): Record<SmsState, number> {
    const out: Record<SmsState, number> = { queued: 0, sending: 0, accepted: 0, delivered: 0, failed: 0 }
    const rows = this.open()
      .prepare('SELECT state, COUNT(*) AS n FROM sms_outbox GROUP BY state')
      .all() as Array<{
      state: SmsState
      n: number
    }>
    for (const r of rows) out[r.state] = r.n
    return out
  }

  /**
   * Submits every message due now (by the injected clock) and settles expired holds. Passes never
   * overlap: a call during a pass waits for it and runs once more. Resolves with the number of
   * messages the gateway accepted in this call.
   */
  dispatchDue(): Promise<number> {
    if (this.dispatching) {
      const current = this.dispatching
      return current.then(() => this.dispatchDue())
    }
    const run = this.dispatchPass().finally(() => {
      this.dispatching = undefined
    })
    this.dispatching = run
    return run
  }

  /** Timer and enqueue wake-up: one pass now, one more if something came in meanwhile. */
  private kick(): void {
    if (!this.db || this.opts.pollIntervalMs === 0) return
    if (this.dispatching) {
      this.rerun = true
      return
    }
    this.dispatchDue()
      .catch((err) => log.error({ err }, 'dispatch failed'))
      .finally(() => {
        if (this.rerun && this.db) {
          this.rerun = false
          this.kick()
        }
      })
  }

  private open(): Database.Database {
    if (!this.db) throw new KampungError('not_started', 'the outbox is not started', { retryable: true })
    return this.db
  }

  private async dispatchPass(): Promise<number> {
    const db = this.open()
    const now = this.clock()
    // In-doubt holds that no report settled.
    const expired = db
      .prepare(
        `SELECT id FROM sms_outbox WHERE state = 'sending' AND reason = 'in_doubt' AND next_attempt_ms <= ?`,
      )
      .all(now) as Array<{ id: number }>
    for (const { id } of expired) {
      this.fail(id, 'in_doubt', 'no delivery report settled a submission that may have reached the gateway')
    }
    const due = db
      .prepare(
        `SELECT id FROM sms_outbox WHERE state = 'queued' AND next_attempt_ms <= ? ORDER BY id LIMIT 1000`,
      )
      .all(now) as Array<{ id: number }>
    let accepted = 0
    let next = 0
    const worker = async () => {
      while (next < due.length) {
        const { id } = due[next++]!
        if (await this.sendOne(id)) accepted++
      }
    }
    await Promise.all(Array.from({ length: Math.min(this.opts.maxInFlight, due.length) }, worker))
    return accepted
  }

  /** Claims one due message (budget, age) and submits it; true when the gateway accepted it. */
  private async sendOne(id: number): Promise<boolean> {
    const db = this.open()
    const now = this.clock()
    const claim = db.transaction((): DbRow | undefined => {
      const row = db.prepare(`SELECT * FROM sms_outbox WHERE id = ? AND state = 'queued'`).get(id) as
        | DbRow
        | undefined
      if (!row) return undefined
      if (now - row.not_before_ms > this.opts.maxAgeMs) {
        this.fail(
          id,
          'max_age',
          `not accepted within ${this.opts.maxAgeMs} ms of being due (${row.reason ?? ''})`,
        )
        return undefined
      }
      const day = jakartaDay(now)
      if (!row.critical && this.opts.dailySegmentBudget > 0) {
        const used = (
          db
            .prepare(
              'SELECT COALESCE(SUM(segments), 0) AS n FROM sms_outbox WHERE to_addr = ? AND budget_day = ?',
            )
            .get(row.to_addr, day) as { n: number }
        ).n
        if (used + row.segments > this.opts.dailySegmentBudget) {
          this.fail(
            id,
            'budget',
            `${row.to_addr} used ${used} of ${this.opts.dailySegmentBudget} segments on ${day}; this message needs ${row.segments}`,
          )
          return undefined
        }
      }
      // A new reference per attempt: a report for an earlier, refused attempt names nothing.
      const ref = newRef()
      db.prepare(
        `UPDATE sms_outbox SET state = 'sending', attempts = attempts + 1, budget_day = ?, dlr_ref = ?, updated_ms = ? WHERE id = ?`,
      ).run(day, ref, now, id)
      return { ...row, dlr_ref: ref }
    })
    const row = claim.immediate()
    if (!row) return false
    const started = performance.now()
    try {
      const { gatewayId } = await this.opts.sender.submit({
        id,
        ref: row.dlr_ref!,
        to: row.to_addr,
        text: row.text,
        coding: row.coding,
      })
      this.m?.submitSeconds.observe((performance.now() - started) / 1000)
      if (!this.db) return true // stopped meanwhile: the row stays `sending` and is settled at the next start
      const t = this.clock()
      // A report may have overtaken the answer: only move forward.
      db.prepare(
        `UPDATE sms_outbox SET state = CASE WHEN state IN ('queued', 'sending') THEN 'accepted' ELSE state END,
           reason = CASE WHEN state IN ('queued', 'sending') THEN NULL ELSE reason END,
           gateway_id = COALESCE(?, gateway_id), accepted_ms = COALESCE(accepted_ms, ?), updated_ms = ? WHERE id = ?`,
      ).run(gatewayId ?? null, t, t, id)
      this.m?.accepted.inc({ sender: this.opts.sender.name })
      return true
    } catch (err) {
      if (!this.db) return false
      this.submitFailed(row, err)
      return false
    }
  }

  private submitFailed(row: DbRow, err: unknown): void {
    const db = this.open()
    const now = this.clock()
    const e = err instanceof KampungError ? err : undefined
    const code = e?.code ?? 'error'
    const message = (err as Error)?.message ?? String(err)
    const current = db.prepare('SELECT state, attempts FROM sms_outbox WHERE id = ?').get(row.id) as {
      state: SmsState
      attempts: number
    }
    if (current.state !== 'sending') return // a report settled it meanwhile
    if (code === 'in_doubt') {
      db.prepare(
        `UPDATE sms_outbox SET reason = 'in_doubt', detail = ?, next_attempt_ms = ?, updated_ms = ? WHERE id = ?`,
      ).run(message, now + this.opts.inDoubtHoldMs, now, row.id)
      this.m?.retries.inc({ cause: 'in_doubt' })
      log.warn({ id: row.id, err: message }, 'submission in doubt; holding for a delivery report')
      return
    }
    if (!e?.retryable) {
      this.fail(row.id, 'rejected', `${code}: ${message}`)
      return
    }
    if (current.attempts >= this.opts.maxAttempts) {
      this.fail(row.id, 'max_attempts', `${current.attempts} attempts; last: ${code}: ${message}`)
      return
    }
    const delay = Math.min(this.opts.retryMaxMs, this.opts.retryBaseMs * 2 ** (current.attempts - 1))
    // Not sent: give the budget back.
    db.prepare(
      `UPDATE sms_outbox SET state = 'queued', reason = ?, detail = ?, budget_day = NULL, next_attempt_ms = ?, updated_ms = ?
       WHERE id = ?`,
    ).run(code, message, now + delay, now, row.id)
    this.m?.retries.inc({ cause: code })
  }

  private fail(id: number, reason: string, detail: string): void {
    const now = this.clock()
    // Budget is charged only for what may have reached the gateway.
    const keepBudget = reason === 'in_doubt'
    this.open()
      .prepare(
        `UPDATE sms_outbox SET state = 'failed', reason = ?, detail = ?, updated_ms = ?,
           budget_day = CASE WHEN ? THEN budget_day ELSE NULL END WHERE id = ?`,
      )
      .run(reason, detail, now, keepBudget ? 1 : 0, id)
    this.m?.failed.inc({ reason })
    log.info({ id, reason, detail }, 'SMS failed')
  }

  /**
   * A delivery report from the sender: moves a message that was handed to the gateway forward,
   * never back. A report never touches a queued message (not sent, or sent back for a retry):
   * marking it delivered would mean it is never sent.
   */
  private applyReport(r: DeliveryReport): void {
    const db = this.db
    if (!db) return
    const row = (
      r.ref !== undefined
        ? db.prepare('SELECT * FROM sms_outbox WHERE dlr_ref = ?').get(r.ref)
        : r.id > 0
          ? db.prepare('SELECT * FROM sms_outbox WHERE id = ?').get(r.id)
          : r.gatewayId
            ? db.prepare('SELECT * FROM sms_outbox WHERE gateway_id = ?').get(r.gatewayId)
            : undefined
    ) as DbRow | undefined
    if (!row) {
      this.m?.reports.inc({ outcome: 'unknown_message' })
      log.warn({ report: { ...r, ref: r.ref && '***' } }, 'delivery report for an unknown message')
      return
    }
    if (row.state === 'queued') {
      this.m?.reports.inc({ outcome: 'not_sent' })
      log.warn(
        { id: row.id, state: r.state },
        'delivery report for a message not handed to the gateway; ignored',
      )
      return
    }
    const settlesDoubt = row.state === 'failed' && row.reason === 'in_doubt'
    if (!(RANK[r.state] > RANK[row.state] || settlesDoubt)) {
      this.m?.reports.inc({ outcome: 'stale' })
      return
    }
    const now = this.clock()
    const reason = r.state === 'failed' ? 'dlr_failed' : null
    db.prepare(
      `UPDATE sms_outbox SET state = ?, reason = ?, detail = COALESCE(?, detail), gateway_id = COALESCE(?, gateway_id),
         accepted_ms = COALESCE(accepted_ms, ?), delivered_ms = CASE WHEN ? = 'delivered' THEN ? ELSE delivered_ms END,
         budget_day = COALESCE(budget_day, ?), updated_ms = ? WHERE id = ?`,
    ).run(
      r.state,
      reason,
      r.detail ?? null,
      r.gatewayId ?? null,
      now,
      r.state,
      now,
      jakartaDay(now),
      now,
      row.id,
    )
    this.m?.reports.inc({ outcome: r.state })
    if (r.state === 'delivered') this.m?.delivered.inc()
    if (r.state === 'failed') this.m?.failed.inc({ reason: 'dlr_failed' })
  }

  private async receive(mo: InboundSms): Promise<void> {
    const db = this.db
    if (!db) return
    db.prepare(
      'INSERT INTO sms_inbox (from_addr, to_addr, text, via, received_ms) VALUES (?, ?, ?, ?, ?)',
    ).run(mo.from, mo.to, mo.text, mo.via, mo.receivedAtMs)
    this.m?.inbound.inc({ via: mo.via })
    for (const handler of this.inboundHandlers) {
      try {
        await handler(mo)
      } catch (err) {
        // A failing handler is its owner's bug; the message is stored and the others still run.
        log.error({ err, from: mo.from }, 'inbound SMS handler failed')
      }
    }
  }

  private createMetrics(): OutboxMetrics {
    const registers = [this.opts.metrics?.registry ?? new Registry()]
    const registry = registers[0]!
    // A restarted outbox on the same registry replaces its metrics rather than failing on the names.
    for (const name of [
      'kampung_sms_queued_total',
      'kampung_sms_accepted_total',
      'kampung_sms_delivered_total',
      'kampung_sms_failed_total',
      'kampung_sms_retries_total',
      'kampung_sms_inbound_total',
      'kampung_sms_reports_total',
      'kampung_sms_submit_seconds',
      'kampung_sms_outbox_depth',
    ]) {
      if (registry.getSingleMetric(name)) registry.removeSingleMetric(name)
    }
    const depthGauge = new Gauge({
      name: 'kampung_sms_outbox_depth',
      help: 'Messages in the SMS outbox by state',
      labelNames: ['state'] as const,
      registers,
      collect: () => {
        if (!this.db) return
        for (const [state, n] of Object.entries(this.depth())) depthGauge.set({ state }, n)
      },
    })
    return {
      queued: new Counter({ name: 'kampung_sms_queued_total', help: 'SMS enqueued (new keys)', registers }),
      accepted: new Counter({
        name: 'kampung_sms_accepted_total',
        help: 'SMS accepted by the gateway',
        labelNames: ['sender'] as const,
        registers,
      }),
      delivered: new Counter({
        name: 'kampung_sms_delivered_total',
        help: 'SMS reported delivered to the phone',
        registers,
      }),
      failed: new Counter({
        name: 'kampung_sms_failed_total',
        help: 'SMS failed for good, by reason',
        labelNames: ['reason'] as const,
        registers,
      }),
      retries: new Counter({
        name: 'kampung_sms_retries_total',
        help: 'Submissions to be retried (or held), by cause',
        labelNames: ['cause'] as const,
        registers,
      }),
      inbound: new Counter({
        name: 'kampung_sms_inbound_total',
        help: 'SMS received (MO)',
        labelNames: ['via'] as const,
        registers,
      }),
      reports: new Counter({
        name: 'kampung_sms_reports_total',
        help: 'Delivery reports by outcome (accepted, delivered, failed, stale, unknown_message, not_sent)',
        labelNames: ['outcome'] as const,
        registers,
      }),
      submitSeconds: new Histogram({
        name: 'kampung_sms_submit_seconds',
        help: 'Time for the gateway to accept one submission',
        buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
        registers,
      }),
    }
  }
}

function stripUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T
}
