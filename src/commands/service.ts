import type Database from 'better-sqlite3'
import { KampungError } from '../errors.ts'
import { getLogger } from '../log.ts'
import { type Device, type Registry, statement } from '../registry/index.ts'
import type { DeviceStatus } from '../telemetry/index.ts'
import {
  COMMAND_PARAMS,
  type CommandAck,
  type CommandKind,
  type CommandMessage,
  type CommandState,
  parseAck,
} from './wire.ts'

/** How commands reach a device's down topic (the embedded broker, or an MQTT client of another). */
export interface CommandLink {
  /** Publish at QoS 1 on `kampung/<village>/<device>/down`; resolves once the broker has it. */
  publishDown(device: Device, payload: string): Promise<void>
  /**
   * Whether a sent, unanswered command goes out again to this device (default yes). No for a
   * device behind a LoRaWAN network server: the server keeps the downlink queued until the device
   * next listens, and a second push would run the command twice (src/lorawan).
   */
  resends?(device: Device): boolean
}

export interface CommandOptions {
  registry: Registry
  /** Where commands go; without one (no broker in this process) they stay queued. */
  link?: CommandLink
  /** Expiry of a command that names none. */
  defaultExpiryS: number
  /** The longest expiry a command may ask for. */
  maxExpiryS: number
  /**
   * A sent command not acknowledged after this long is sent again while the device is online
   * (the device may have subscribed after the first send, or its ack was lost); the device treats
   * a repeated id as done and only acknowledges it again.
   */
  resendAfterS: number
  /** How often expiries and resends are checked. */
  checkEveryMs: number
}

export const defaultCommandOptions = {
  // A day: a node on a solar battery may be offline overnight.
  defaultExpiryS: 86_400,
  maxExpiryS: 7 * 86_400,
  resendAfterS: 30,
  checkEveryMs: 1_000,
}

/** A command as the API shows it. */
export interface Command {
  id: string
  device: string
  kind: CommandKind
  params: Record<string, unknown>
  state: CommandState
  createdBy?: string
  createdAtMs: number
  expiresAtMs: number
  sentAtMs?: number
  /** Times it was published on the down topic (resends included). */
  sends: number
  doneAtMs?: number
  /** Acknowledgements received (a repeated ack changes nothing else). */
  acks: number
  error?: string
}

export interface NewCommand {
  id: string
  device: string
  kind: string
  params?: unknown
  /** Seconds from now; default defaultExpiryS. */
  expiresInS?: number
}

interface Row {
  id: string
  device: string
  kind: CommandKind
  params: string
  content: string
  state: CommandState
  created_by: string | null
  created_at_ms: number
  expires_at_ms: number
  sent_at_ms: number | null
  sends: number
  done_at_ms: number | null
  acks: number
  error: string | null
}

const toCommand = (r: Row): Command => ({
  id: r.id,
  device: r.device,
  kind: r.kind,
  params: JSON.parse(r.params) as Record<string, unknown>,
  state: r.state,
  ...(r.created_by ? { createdBy: r.created_by } : {}),
  createdAtMs: r.created_at_ms,
  expiresAtMs: r.expires_at_ms,
  ...(r.sent_at_ms !== null ? { sentAtMs: r.sent_at_ms } : {}),
  sends: r.sends,
  ...(r.done_at_ms !== null ? { doneAtMs: r.done_at_ms } : {}),
  acks: r.acks,
  ...(r.error !== null ? { error: r.error } : {}),
})

/** Object keys sorted at every level: the same request always has the same content string. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`
  if (value && typeof value === 'object')
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`)
      .join(',')}}`
  return JSON.stringify(value)
}

/** Client-given ids: a UUID, a ULID or `console-<n>`; no '/', '+' or '#' (they travel in JSON only, but stay readable in logs). */
const COMMAND_ID = /^[A-Za-z0-9._:-]{1,100}$/

const bad = (message: string) => new KampungError('invalid_command', message, { retryable: false })

/**
 * Commands to devices, kept in the registry's SQLite file: submitted (idempotent by the client's
 * id), published on the device's down topic when it is online, sent again until it acknowledges,
 * expired when their time is up. Every state change is one synchronous SQLite write, so a restart
 * loses nothing; after one, open commands go out again when their device comes back.
 */
export class CommandService {
  private readonly opts: CommandOptions
  private readonly log = getLogger('commands')
  private db: Database.Database | undefined
  private timer: NodeJS.Timeout | undefined
  /** Devices whose retained status says online (from the broker's status feed). */
  private readonly online = new Set<string>()
  /** Publishes in flight per command id: a command is never published twice at once. */
  private readonly publishing = new Set<string>()
  /** Told of each command's first answer (the node configuration keeps what a node reports). */
  private readonly answered = new Set<(command: Command, ack: CommandAck) => void>()

  constructor(opts: CommandOptions) {
    this.opts = opts
  }

  async start(): Promise<void> {
    if (this.db) return
    this.db = this.opts.registry.database()
    this.timer = setInterval(() => this.tick(), this.opts.checkEveryMs)
    this.timer.unref()
    this.tick()
  }

  async stop(): Promise<void> {
    clearInterval(this.timer)
    this.timer = undefined
    this.db = undefined
    this.online.clear()
  }

  private open(): Database.Database {
    if (!this.db) throw new KampungError('not_started', 'commands are not started', { retryable: true })
    return this.db
  }

  /**
   * Records a command (state queued) and sends it if its device is online. A repeated id with the
   * same content returns the existing command (`created: false`); with other content it is a
   * conflict (`command_exists`, HTTP 409).
   */
  submit(input: NewCommand, by?: string, nowMs = Date.now()): { command: Command; created: boolean } {
    const db = this.open()
    if (typeof input.id !== 'string' || !COMMAND_ID.test(input.id))
      throw bad('id must be 1 to 100 of A-Z a-z 0-9 . _ : - (a UUID will do): the client picks it, once')
    const device = this.opts.registry.getDevice(input.device)
    if (!device) throw new KampungError('unknown_device', `no device ${input.device}`, { retryable: false })
    if (device.kind === 'service' || device.kind === 'gateway')
      throw bad(`device ${device.id} is a ${device.kind}: commands go to nodes`)
    const schema = COMMAND_PARAMS[input.kind as CommandKind]
    if (!schema) throw bad(`kind must be one of ${Object.keys(COMMAND_PARAMS).join(', ')}`)
    const parsed = schema.safeParse(input.params ?? {})
    if (!parsed.success)
      throw bad(parsed.error.issues.map((i) => `params.${i.path.join('.')}: ${i.message}`).join('; '))
    const expiresInS = input.expiresInS ?? this.opts.defaultExpiryS
    if (!Number.isFinite(expiresInS) || expiresInS <= 0 || expiresInS > this.opts.maxExpiryS)
      throw bad(`expiresInS must be over 0 and at most ${this.opts.maxExpiryS}`)
    const params = parsed.data as Record<string, unknown>
    const content = canonical({
      device: device.id,
      kind: input.kind,
      params,
      expiresInS: input.expiresInS ?? null,
    })
    const existing = db.prepare('SELECT * FROM commands WHERE id = ?').get(input.id) as Row | undefined
    if (existing) {
      if (existing.content !== content)
        throw new KampungError(
          'command_exists',
          `command ${input.id} exists with other content: a new command needs a new id`,
          { retryable: false },
        )
      return { command: toCommand(existing), created: false }
    }
    db.prepare(
      `INSERT INTO commands (id, device, kind, params, content, state, created_by, created_at_ms, expires_at_ms)
       VALUES (?, ?, ?, ?, ?, 'queued', ?, ?, ?)`,
    ).run(
      input.id,
      device.id,
      input.kind,
      JSON.stringify(params),
      content,
      by ?? null,
      nowMs,
      nowMs + expiresInS * 1000,
    )
    const command = this.get(input.id)!
    this.log.info({ id: command.id, device: device.id, kind: command.kind, by }, 'command queued')
    if (this.online.has(device.id)) this.send(command.id)
    return { command, created: true }
  }

  /** Calls `listener` with each command's first answer, after it is recorded; returns the unsubscribe. */
  onAnswered(listener: (command: Command, ack: CommandAck) => void): () => void {
    this.answered.add(listener)
    return () => this.answered.delete(listener)
  }

  /**
   * Ends an open (queued or sent) command as `expired` with `reason`, e.g. a configuration version
   * superseded by a newer one: it is not sent (again). An answer that still comes decides as usual.
   * False when the command was no longer open.
   */
  withdraw(id: string, reason: string, nowMs = Date.now()): boolean {
    const changed = this.open()
      .prepare(
        `UPDATE commands SET state = 'expired', done_at_ms = ?, error = ?
         WHERE id = ? AND state IN ('queued', 'sent')`,
      )
      .run(nowMs, reason, id)
    if (changed.changes > 0) this.log.info({ id, reason }, 'command withdrawn')
    return changed.changes > 0
  }

  get(id: string): Command | undefined {
    const row = this.open().prepare('SELECT * FROM commands WHERE id = ?').get(id) as Row | undefined
    return row && toCommand(row)
  }

  /** Commands waiting for their device (queued) or its answer (sent): the /metrics gauge. */
  openCount(): number {
    if (!this.db) return 0
    return this.db
      .prepare("SELECT COUNT(*) FROM commands WHERE state IN ('queued', 'sent')")
      .pluck()
      .get() as number
  }

  /** A device's commands, newest first. */
  list(device: string, limit = 100): Command[] {
    const rows = this.open()
      .prepare('SELECT * FROM commands WHERE device = ? ORDER BY created_at_ms DESC, id DESC LIMIT ?')
      .all(device, limit) as Row[]
    return rows.map(toCommand)
  }

  /** The broker's status feed: a device back online gets its open commands. */
  onStatus(status: DeviceStatus): void {
    if (!this.db) return
    if (status.state === 'offline') {
      this.online.delete(status.device)
      return
    }
    this.online.add(status.device)
    this.deliver(status.device)
  }

  /**
   * The device subscribed to its down topic: what was published before (e.g. between its CONNACK
   * and its SUBSCRIBE, which a clean session does not keep) goes out again now.
   */
  onDownSubscribed(deviceId: string): void {
    if (!this.db) return
    this.online.add(deviceId)
    this.deliver(deviceId, { resend: true })
  }

  /**
   * A device's answer on its own ack topic (the ACL lets only the device publish there). The first
   * ack decides acknowledged or failed; a repeated one only counts. An ack for a command that was
   * never sent, or for another device's command, is ignored.
   */
  onAck(deviceId: string, payload: Buffer | string, nowMs = Date.now()): void {
    if (!this.db) return
    const ack = parseAck(payload)
    if (!ack) {
      this.log.warn({ device: deviceId }, 'unparseable command ack ignored')
      return
    }
    this.answer(deviceId, ack, nowMs)
  }

  /**
   * An answer already read: the device's own ack, or its network server's acknowledgement of a
   * downlink (src/lorawan). Same rules as onAck.
   */
  answer(deviceId: string, ack: CommandAck, nowMs = Date.now()): void {
    if (!this.db) return
    const db = this.open()
    const row = db.prepare('SELECT * FROM commands WHERE id = ?').get(ack.id) as Row | undefined
    if (!row || row.device !== deviceId || row.sends === 0) {
      this.log.warn({ device: deviceId, id: ack.id }, 'ack for no command of this device ignored')
      return
    }
    // First ack wins (also after expiry: the device did act on it, and says so).
    const changed = db
      .prepare(
        `UPDATE commands SET state = ?, done_at_ms = ?, error = ?, acks = acks + 1
         WHERE id = ? AND state IN ('queued', 'sent', 'expired')`,
      )
      .run(ack.ok ? 'acknowledged' : 'failed', nowMs, ack.ok ? null : (ack.error ?? 'failed'), ack.id)
    if (changed.changes === 0) {
      db.prepare('UPDATE commands SET acks = acks + 1 WHERE id = ?').run(ack.id)
      return
    }
    this.log.info({ id: ack.id, device: deviceId, ok: ack.ok, error: ack.error }, 'command acknowledged')
    const command = this.get(ack.id)!
    for (const listener of this.answered) {
      try {
        listener(command, ack)
      } catch (err) {
        this.log.error({ err, id: ack.id }, 'command answer listener failed')
      }
    }
  }

  /** Expire what is due; resend what is sent, unacknowledged and stale, to online devices. */
  private tick(nowMs = Date.now()): void {
    if (!this.db) return
    try {
      const expired = this.db
        .prepare(
          `UPDATE commands SET state = 'expired', done_at_ms = ?
           WHERE state IN ('queued', 'sent') AND expires_at_ms <= ? RETURNING id, device`,
        )
        .all(nowMs, nowMs) as Array<{ id: string; device: string }>
      for (const e of expired) this.log.info(e, 'command expired')
      // One query over the open commands (partial index), not one per online device: a district
      // keeps thousands of devices online and few commands open.
      const due = this.db
        .prepare(
          `SELECT id, device, state FROM commands WHERE state IN ('queued', 'sent') AND expires_at_ms > ?
           AND (state = 'queued' OR sent_at_ms <= ?) ORDER BY created_at_ms, id`,
        )
        .all(nowMs, nowMs - this.opts.resendAfterS * 1000) as Array<{
        id: string
        device: string
        state: CommandState
      }>
      for (const d of due)
        if (this.online.has(d.device) && (d.state === 'queued' || this.resends(d.device))) this.send(d.id)
    } catch (err) {
      this.log.error({ err }, 'command check failed')
    }
  }

  /** Publishes a device's open commands, oldest first: every queued one, and sent ones on `resend`. */
  private deliver(deviceId: string, opts: { resend?: boolean } = {}): void {
    // once per status message (a reconnect storm brings 10 000): the statement is kept per connection
    const rows = statement(
      this.open(),
      `SELECT id, state, sent_at_ms FROM commands WHERE device = ? AND state IN ('queued', 'sent')
         AND expires_at_ms > ? ORDER BY created_at_ms, id`,
    ).all(deviceId, Date.now()) as Array<{ id: string; state: CommandState; sent_at_ms: number | null }>
    for (const r of rows) {
      if (r.state === 'queued' || opts.resend === true) this.send(r.id)
    }
  }

  private resends(deviceId: string): boolean {
    const link = this.opts.link
    if (!link?.resends) return true
    const device = this.opts.registry.getDevice(deviceId)
    return device !== undefined && link.resends(device)
  }

  private send(id: string): void {
    const link = this.opts.link
    if (!link || this.publishing.has(id)) return
    const row = this.open().prepare('SELECT * FROM commands WHERE id = ?').get(id) as Row | undefined
    const device = row && this.opts.registry.getDevice(row.device)
    if (!row || !device) return
    const message: CommandMessage = {
      id: row.id,
      kind: row.kind,
      params: JSON.parse(row.params) as Record<string, unknown>,
      expiresAtMs: row.expires_at_ms,
    }
    this.publishing.add(id)
    link.publishDown(device, JSON.stringify(message)).then(
      () => {
        this.publishing.delete(id)
        if (!this.db) return
        this.db
          .prepare(
            `UPDATE commands SET state = CASE WHEN state = 'queued' THEN 'sent' ELSE state END,
             sent_at_ms = ?, sends = sends + 1 WHERE id = ? AND state IN ('queued', 'sent')`,
          )
          .run(Date.now(), id)
      },
      (err: unknown) => {
        this.publishing.delete(id)
        if (err instanceof KampungError && !err.retryable && this.db) {
          // The link can never send it (e.g. no binary form for a LoRaWAN downlink): say so now.
          this.db
            .prepare(
              `UPDATE commands SET state = 'failed', done_at_ms = ?, error = ?
               WHERE id = ? AND state IN ('queued', 'sent')`,
            )
            .run(Date.now(), err.message, id)
          this.log.warn({ id, device: device.id, err: err.message }, 'command cannot be sent: failed')
          return
        }
        this.log.warn({ id, device: device.id, err }, 'command not published; tried again later')
      },
    )
  }
}
