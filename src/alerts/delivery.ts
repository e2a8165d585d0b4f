import type Database from 'better-sqlite3'
import { getLogger } from '../log.ts'
import { statement } from '../registry/index.ts'
import type { AlertsConfig } from './config.ts'
import type { Directory, Language } from './directory.ts'
import type { AlertRow, Silence, SilenceMatchers } from './engine.ts'
import type { OutboxPort } from './notify-port.ts'
import type { AlertView } from './rules/index.ts'
import { escalationText, type MessageItem, renderGroup } from './templates.ts'
import { inQuietHours, quietHoursEnd } from './time.ts'

interface Recipient {
  key: string
  phone: string
  language: Language
  quietStart?: string
  quietEnd?: string
}

export interface DeliveryOptions {
  db: () => Database.Database
  config: AlertsConfig
  directory: Directory
  outbox: OutboxPort
  clock: () => number
  /** The engine's partition: only this process's villages are flushed, escalated, handed over. */
  owns: (village: string) => boolean
  view: (a: AlertRow) => AlertView
  recordEvent: (alertId: number, state: string, atMs: number) => void
}

/** Villages whose gateway is offline and devices that are offline (firing): what inhibits sensor alerts. */
interface Inhibitors {
  villages: Set<string>
  devices: Set<string>
}
/**
 * Notification of alerts (Alertmanager's half): who is owed what, grouping per recipient
 * (group_wait, group_interval, repeat_interval), quiet hours, inhibition, silences, escalation to
 * officers, and the hand-over of written SMS to the outbox. The engine owns the lifecycle and calls
 * flush()/escalate()/handOver(); everything here is committed before it is handed over.
 */
export class Delivery {
  private readonly opts: DeliveryOptions
  private readonly log = getLogger('alerts.delivery')
  private outboxDown = false
  /** Nothing can be due to send before this (see flush); a state change resets it. */
  dueAtMs = Number.NEGATIVE_INFINITY
  flushedDirectoryVersion = -1

  constructor(opts: DeliveryOptions) {
    this.opts = opts
  }

  private get db(): Database.Database {
    return this.opts.db()
  }

  private sql(text: string): Database.Statement {
    return statement(this.db, text)
  }

  private get cfg(): AlertsConfig {
    return this.opts.config
  }

  silences(nowMs: number): Silence[] {
    return (
      this.sql('SELECT * FROM silences WHERE starts_at_ms <= ? AND ends_at_ms > ?').all(
        nowMs,
        nowMs,
      ) as Array<{
        id: number
        matchers: string
        starts_at_ms: number
        ends_at_ms: number
        created_by: string
        comment: string
      }>
    ).map((r) => ({
      id: r.id,
      matchers: JSON.parse(r.matchers) as SilenceMatchers,
      startsAtMs: r.starts_at_ms,
      endsAtMs: r.ends_at_ms,
      createdBy: r.created_by,
      comment: r.comment,
    }))
  }

  private silenced(a: AlertRow, silences: Silence[]): boolean {
    return silences.some((s) =>
      (Object.entries(s.matchers) as Array<[keyof SilenceMatchers, string]>).every(
        ([k, v]) => (a as unknown as Record<string, unknown>)[k] === v,
      ),
    )
  }

  /**
   * Inhibition (Alertmanager): while a village's gateway is offline every sensor alert of that
   * village is held; while a node is offline its other sensor alerts are held. Held alerts are
   * sent if they are still firing once the inhibiting alert resolves.
   */
  private inhibited(a: AlertRow, firing: Inhibitors): boolean {
    if (a.category !== 'sensor' || a.rule === 'gateway_offline') return false
    return firing.villages.has(a.village) || (a.rule !== 'device_offline' && firing.devices.has(a.device!))
  }

  private recipientsOf(a: AlertRow): Recipient[] {
    if (a.field) {
      return this.opts.directory
        .subscribersOf(a.field)
        .filter((f) => !f.stopped)
        .map((f) => ({
          key: `farmer:${f.id}`,
          phone: f.phone,
          language: f.language,
          quietStart: f.quietStart,
          quietEnd: f.quietEnd,
        }))
    }
    // No field (a weather station, a gateway): the village officers look after the equipment.
    return this.opts.directory.officersOf(a.village).map((o) => ({
      key: `officer:${o.id}`,
      phone: o.phone,
      language: o.language,
      quietStart: this.cfg.quietHours.start,
      quietEnd: this.cfg.quietHours.end,
    }))
  }

  /**
   * Group flush (Alertmanager group_wait / group_interval / repeat_interval), per recipient: new
   * firing alerts, reminders of unacknowledged ones after the repeat interval, and all-clears,
   * in one SMS. Critical findings skip group_interval and quiet hours.
   *
   * One IMMEDIATE transaction from reading who is owed what to recording what was sent: two
   * processes flushing on one registry (workers wrongly owning the same village) take turns, and
   * the second sees the first's deliveries, so it cannot group the same alert into a second,
   * differently keyed SMS. Hand-over to the outbox follows the commit.
   */
  flush(nowMs: number): void {
    this.db.transaction(() => this.flushLocked(nowMs)).immediate()
    this.handOver()
  }

  private flushLocked(nowMs: number): void {
    const all = this.sql(
      `SELECT * FROM alerts WHERE state = 'firing'
           OR (state = 'resolved' AND id IN (SELECT alert FROM alert_deliveries WHERE resolved_sent = 0))`,
    )
      .all()
      .filter((a) => this.opts.owns((a as AlertRow).village)) as AlertRow[]
    // The earliest time anything not sent now could become due (a tick flushes regardless).
    let next = Number.POSITIVE_INFINITY
    // What inhibits, indexed once: a scan of the firing alerts per alert was quadratic (a district's
    // power cut: thousands of device_offline alerts).
    const firing: Inhibitors = { villages: new Set(), devices: new Set() }
    for (const a of all) {
      if (a.state !== 'firing') continue
      if (a.rule === 'gateway_offline') firing.villages.add(a.village)
      else if (a.rule === 'device_offline' && a.device !== null) firing.devices.add(a.device)
    }
    const silences = this.silences(nowMs)
    const delivery = this.sql('SELECT * FROM alert_deliveries WHERE alert = ? AND recipient = ?')
    type Due = { alert: AlertRow; kind: MessageItem['kind']; dueMs: number; critical: boolean }
    const byRecipient = new Map<string, { recipient: Recipient; due: Due[] }>()
    for (const a of all) {
      if (a.state === 'firing' && this.silenced(a, silences)) {
        next = Math.min(next, ...silences.map((x) => x.endsAtMs))
        continue
      }
      if (a.state === 'firing' && this.inhibited(a, firing)) continue
      for (const r of this.recipientsOf(a)) {
        const d = delivery.get(a.id, r.key) as
          | { notified_at_ms: number; count: number; resolved_sent: number }
          | undefined
        let item: Due | undefined
        const critical = a.severity === 'critical'
        if (a.state === 'resolved') {
          if (d && d.resolved_sent === 0)
            item = { alert: a, kind: 'resolved', dueMs: a.resolved_at_ms!, critical }
        } else if (!d) {
          item = { alert: a, kind: 'firing', dueMs: a.fired_at_ms!, critical }
        } else if (a.acked_at_ms === null) {
          const repeatAt = d.notified_at_ms + this.cfg.repeatIntervalMs
          if (nowMs >= repeatAt) item = { alert: a, kind: 'repeat', dueMs: repeatAt, critical }
          else next = Math.min(next, repeatAt)
        }
        if (!item) continue
        const entry = byRecipient.get(r.key) ?? { recipient: r, due: [] }
        entry.due.push(item)
        byRecipient.set(r.key, entry)
      }
    }
    for (const { recipient, due } of byRecipient.values()) {
      const state = this.sql('SELECT * FROM alert_recipients WHERE recipient = ?').get(recipient.key) as
        | { seq: number; last_sent_ms: number | null }
        | undefined
      const lastSent = state?.last_sent_ms ?? Number.NEGATIVE_INFINITY
      const earliest = Math.min(...due.map((d) => d.dueMs))
      const critical = due.filter((d) => d.critical)
      const flushAt = Math.max(earliest + this.cfg.groupWaitMs, lastSent + this.cfg.groupIntervalMs)
      const criticalAt =
        critical.length > 0
          ? Math.min(...critical.map((d) => d.dueMs)) + this.cfg.groupWaitMs
          : Number.POSITIVE_INFINITY
      if (nowMs < flushAt && nowMs < criticalAt) {
        next = Math.min(next, flushAt, criticalAt)
        continue
      }
      const ready = nowMs >= flushAt ? due : critical
      if (ready.length < due.length)
        next = Math.min(next, Math.max(flushAt, nowMs + this.cfg.groupIntervalMs))
      if (ready.some((d) => d.kind !== 'resolved')) next = Math.min(next, nowMs + this.cfg.repeatIntervalMs)
      this.send(recipient, ready, nowMs, state?.seq ?? 0)
    }
    this.dueAtMs = next
    this.flushedDirectoryVersion = this.opts.directory.version
  }

  private send(
    r: Recipient,
    due: Array<{ alert: AlertRow; kind: MessageItem['kind']; critical: boolean }>,
    nowMs: number,
    seq: number,
  ): void {
    const quiet = r.quietStart !== undefined && inQuietHours(nowMs, r.quietStart, r.quietEnd!)
    // In quiet hours non-critical findings wait for the morning in the outbox; critical go now.
    const parts = quiet
      ? [due.filter((d) => d.critical), due.filter((d) => !d.critical)].filter((p) => p.length > 0)
      : [due]
    const insert = this.sql(
      `INSERT OR IGNORE INTO alert_messages (key, recipient, phone, text, critical, not_before_ms, alerts, created_at_ms)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    this.db.transaction(() => {
      let n = seq
      for (const part of parts) {
        n += 1
        const critical = part.some((d) => d.critical)
        const ids = part.map((d) => d.alert.id)
        const text = renderGroup(
          part.map((d) => ({ alert: this.opts.view(d.alert), kind: d.kind })),
          r.language,
        )
        const notBefore = quiet && !critical ? quietHoursEnd(nowMs, r.quietEnd!) : null
        // Key = alert ids + the recipient's notification sequence: a restart recomputes the same key.
        insert.run(
          `alert:${ids.join('.')}:${r.key}:${n}`,
          r.key,
          r.phone,
          text,
          critical ? 1 : 0,
          notBefore,
          JSON.stringify(ids),
          nowMs,
        )
        for (const d of part) {
          if (d.kind === 'resolved') {
            this.sql('UPDATE alert_deliveries SET resolved_sent = 1 WHERE alert = ? AND recipient = ?').run(
              d.alert.id,
              r.key,
            )
          } else {
            this.sql(
              `INSERT INTO alert_deliveries (alert, recipient, notified_at_ms, count) VALUES (?, ?, ?, 1)
                 ON CONFLICT(alert, recipient) DO UPDATE SET notified_at_ms = excluded.notified_at_ms, count = count + 1`,
            ).run(d.alert.id, r.key, nowMs)
          }
        }
      }
      this.sql(
        `INSERT INTO alert_recipients (recipient, seq, last_sent_ms) VALUES (?, ?, ?)
           ON CONFLICT(recipient) DO UPDATE SET seq = excluded.seq, last_sent_ms = excluded.last_sent_ms`,
      ).run(r.key, n, nowMs)
    })()
  }

  /** Escalation: a critical alert firing unacknowledged for escalateAfterMs goes to the village officers. */
  escalate(nowMs: number): void {
    const rows = this.sql(
      `SELECT * FROM alerts WHERE state = 'firing' AND severity = 'critical' AND acked_at_ms IS NULL
           AND escalated_at_ms IS NULL AND fired_at_ms <= ?`,
    )
      .all(nowMs - this.cfg.escalateAfterMs)
      .filter((a) => this.opts.owns((a as AlertRow).village)) as AlertRow[]
    if (rows.length === 0) return
    const silences = this.silences(nowMs)
    const insert = this.sql(
      `INSERT OR IGNORE INTO alert_messages (key, recipient, phone, text, critical, not_before_ms, alerts, created_at_ms)
       VALUES (?, ?, ?, ?, 1, NULL, ?, ?)`,
    )
    for (const a of rows) {
      if (this.silenced(a, silences)) continue
      const minutes = Math.round((nowMs - a.fired_at_ms!) / 60_000)
      this.db.transaction(() => {
        for (const o of this.opts.directory.officersOf(a.village)) {
          insert.run(
            `escalation:${a.id}:officer:${o.id}`,
            `officer:${o.id}`,
            o.phone,
            escalationText(this.opts.view(a), minutes, o.language),
            JSON.stringify([a.id]),
            nowMs,
          )
        }
        this.sql('UPDATE alerts SET escalated_at_ms = ? WHERE id = ?').run(nowMs, a.id)
      })()
      this.opts.recordEvent(a.id, 'escalated', nowMs)
    }
    this.handOver()
  }

  /** Hands every SMS not yet handed to the outbox; the key makes a repeat harmless. */
  handOver(): void {
    // A message belongs to the village of its (first) alert: with a shared registry, only its owner hands it over.
    const rows = (
      this.sql(
        `SELECT m.*, a.village FROM alert_messages m LEFT JOIN alerts a ON a.id = json_extract(m.alerts, '$[0]')
         WHERE m.enqueued_at_ms IS NULL ORDER BY m.id`,
      ).all() as Array<{
        id: number
        key: string
        phone: string
        text: string
        critical: number
        not_before_ms: number | null
        village: string | null
      }>
    ).filter((m) => m.village === null || this.opts.owns(m.village))
    const mark = this.sql('UPDATE alert_messages SET enqueued_at_ms = ? WHERE id = ?')
    for (const m of rows) {
      try {
        this.opts.outbox.enqueue({
          key: m.key,
          to: m.phone,
          text: m.text,
          critical: m.critical === 1,
          ...(m.not_before_ms !== null ? { notBeforeMs: m.not_before_ms } : {}),
        })
        mark.run(this.opts.clock(), m.id)
        if (this.outboxDown) this.log.info('outbox takes alert SMS again')
        this.outboxDown = false
      } catch (err) {
        // The outbox refused (its disk?): the message stays here and is handed again next tick.
        if (!this.outboxDown)
          this.log.error({ err, key: m.key }, 'outbox did not take an alert SMS; will retry')
        this.outboxDown = true
        return
      }
    }
  }
}
