import type Database from 'better-sqlite3'
import { type AuditActor, AuditLog } from '../audit/index.ts'
import { KampungError } from '../errors.ts'
import { getLogger } from '../log.ts'
import type { Registry } from '../registry/index.ts'
import type { Command, CommandService } from './service.ts'
import { type CommandAck, NODE_SETTING_NAMES, type NodeSettings, nodeSettingsSchema } from './wire.ts'

/**
 * Where a device's configuration stands:
 * - `none`: no desired configuration was ever set;
 * - `in_sync`: the node reported the desired version as applied, with the same settings;
 * - `waiting`: the desired version's `set_config` is queued (device offline) or sent, unanswered;
 * - `failed`: the node refused it (with its reason), or it expired before reaching the node;
 * - `differs`: answered, but what the node reports is not the desired version or its settings
 *   (a `set_config` sent outside the versioned configuration, a node that did not report).
 */
export const CONFIG_SYNC_STATES = ['none', 'in_sync', 'waiting', 'failed', 'differs'] as const
export type ConfigSyncState = (typeof CONFIG_SYNC_STATES)[number]

export interface DesiredConfig {
  version: number
  settings: NodeSettings
  /** The `set_config` command that carries this version (`config-<device>-v<version>`). */
  commandId: string
  createdBy?: string
  createdAtMs: number
}

export interface ReportedConfig {
  version: number
  /** Every setting in effect on the node (its report interval always). */
  settings: NodeSettings
  /** The command whose answer carried it. */
  commandId?: string
  reportedAtMs: number
}

/** One desired version and how its command fared. */
export interface ConfigVersion extends DesiredConfig {
  state?: Command['state']
  error?: string
}

/** `GET /api/v1/devices/:id/config`: desired against reported. */
export interface NodeConfigView {
  device: string
  status: ConfigSyncState
  /** `waiting`: since when (the desired version's creation). */
  waitingSinceMs?: number
  /** `failed`: the node's reason, `expired`, or why it was withdrawn. */
  error?: string
  desired?: DesiredConfig
  /** The desired version's command. */
  command?: Command
  reported?: ReportedConfig
  /** The latest versions, newest first. */
  history: ConfigVersion[]
}

export interface NodeConfigOptions {
  registry: Registry
  commands: CommandService
  /**
   * How long a version's `set_config` waits for an offline node (commands.maxExpiryS: a desired
   * configuration is meant to arrive, even after days away).
   */
  expiryS: number
}

interface VersionRow {
  device: string
  version: number
  settings: string
  command_id: string
  created_by: string | null
  created_at_ms: number
}

interface ReportedRow {
  device: string
  version: number
  settings: string
  command_id: string | null
  reported_at_ms: number
}

/** Versions shown in a view's history. */
const HISTORY = 10

const toDesired = (r: VersionRow): DesiredConfig => ({
  version: r.version,
  settings: JSON.parse(r.settings) as NodeSettings,
  commandId: r.command_id,
  ...(r.created_by ? { createdBy: r.created_by } : {}),
  createdAtMs: r.created_at_ms,
})

/** Settings in a fixed key order, absent ones left out: equal settings give equal strings. */
function settingsKey(s: NodeSettings): string {
  return JSON.stringify(NODE_SETTING_NAMES.filter((k) => s[k] !== undefined).map((k) => [k, s[k]]))
}

/**
 * The reported settings match the desired ones: each desired setting has the same value, and a
 * threshold the desired configuration leaves out is off on the node. A report interval left out
 * is the node's own default, whatever it is.
 */
function matches(desired: NodeSettings, reported: NodeSettings): boolean {
  return NODE_SETTING_NAMES.every((k) =>
    k === 'reportIntervalS' && desired[k] === undefined ? true : desired[k] === reported[k],
  )
}

const bad = (message: string) => new KampungError('invalid_config', message, { retryable: false })

/**
 * Versioned node configuration (issue 17 scope 2), in the registry's SQLite file (tables
 * `device_config`, `device_config_reported`): each change of a device's desired settings is a new
 * version (1, 2, 3… per device), recorded in the audit trail (`config.set`) and sent as a
 * `set_config` command carrying the version, through the commands' own delivery; a newer version
 * withdraws an older one still open. What a node answers to a `set_config` carries the
 * configuration it applied, kept as the device's reported configuration.
 */
export class NodeConfigService {
  private readonly opts: NodeConfigOptions
  private readonly log = getLogger('commands.config')
  private db: Database.Database | undefined
  private unsubscribe: (() => void) | undefined

  constructor(opts: NodeConfigOptions) {
    this.opts = opts
  }

  async start(): Promise<void> {
    if (this.db) return
    this.db = this.opts.registry.database()
    this.unsubscribe = this.opts.commands.onAnswered((command, ack) => this.onAnswer(command, ack))
  }

  async stop(): Promise<void> {
    this.unsubscribe?.()
    this.unsubscribe = undefined
    this.db = undefined
  }

  private open(): Database.Database {
    if (!this.db)
      throw new KampungError('not_started', 'node configuration is not started', { retryable: true })
    return this.db
  }

  private device(id: string) {
    const device = this.opts.registry.getDevice(id)
    if (!device) throw new KampungError('unknown_device', `no device ${id}`, { retryable: false })
    return device
  }

  /** A device's desired and reported configuration, and where they stand. */
  get(deviceId: string): NodeConfigView {
    const db = this.open()
    const device = this.device(deviceId)
    const rows = db
      .prepare('SELECT * FROM device_config WHERE device = ? ORDER BY version DESC LIMIT ?')
      .all(device.id, HISTORY) as VersionRow[]
    const reportedRow = db.prepare('SELECT * FROM device_config_reported WHERE device = ?').get(device.id) as
      | ReportedRow
      | undefined
    const history: ConfigVersion[] = rows.map((r) => {
      const c = this.opts.commands.get(r.command_id)
      return { ...toDesired(r), ...(c ? { state: c.state } : {}), ...(c?.error ? { error: c.error } : {}) }
    })
    const desired = rows[0] && toDesired(rows[0])
    const command = desired && this.opts.commands.get(desired.commandId)
    const reported: ReportedConfig | undefined = reportedRow && {
      version: reportedRow.version,
      settings: JSON.parse(reportedRow.settings) as NodeSettings,
      ...(reportedRow.command_id ? { commandId: reportedRow.command_id } : {}),
      reportedAtMs: reportedRow.reported_at_ms,
    }
    const view: NodeConfigView = {
      device: device.id,
      status: 'none',
      ...(desired ? { desired } : {}),
      ...(command ? { command } : {}),
      ...(reported ? { reported } : {}),
      history,
    }
    if (!desired) return view
    if (reported && reported.version === desired.version && matches(desired.settings, reported.settings))
      return { ...view, status: 'in_sync' }
    if (command?.state === 'queued' || command?.state === 'sent')
      return { ...view, status: 'waiting', waitingSinceMs: desired.createdAtMs }
    if (command?.state === 'failed' || command?.state === 'expired')
      return { ...view, status: 'failed', error: command.error ?? command.state }
    return { ...view, status: 'differs' }
  }

  /**
   * Sets a device's whole desired configuration (settings left out: the node's defaults, no local
   * rule). The same settings as the current version change nothing (`created: false`) unless that
   * version failed or expired, which a new version tries again. Else, in one transaction: the next
   * version, older open versions withdrawn, the audit entry and the `set_config` command (sent at
   * once when the device is online).
   */
  set(
    deviceId: string,
    input: unknown,
    actor: AuditActor,
    nowMs = Date.now(),
  ): { view: NodeConfigView; created: boolean } {
    const db = this.open()
    const device = this.device(deviceId)
    if (device.kind === 'service' || device.kind === 'gateway')
      throw bad(`device ${device.id} is a ${device.kind}: configuration goes to nodes`)
    const parsed = nodeSettingsSchema.safeParse(input ?? {})
    if (!parsed.success)
      throw bad(parsed.error.issues.map((i) => `${i.path.join('.') || 'settings'}: ${i.message}`).join('; '))
    const settings = Object.fromEntries(
      NODE_SETTING_NAMES.filter((k) => parsed.data[k] !== undefined).map((k) => [k, parsed.data[k]]),
    ) as NodeSettings
    const created = db.transaction(() => {
      const current = db
        .prepare('SELECT * FROM device_config WHERE device = ? ORDER BY version DESC LIMIT 1')
        .get(device.id) as VersionRow | undefined
      if (current && settingsKey(JSON.parse(current.settings) as NodeSettings) === settingsKey(settings)) {
        const state = this.opts.commands.get(current.command_id)?.state
        if (state !== 'failed' && state !== 'expired') return false
      }
      const version = (current?.version ?? 0) + 1
      const commandId = `config-${device.id}-v${version}`
      const open = db
        .prepare(
          `SELECT d.command_id FROM device_config d JOIN commands c ON c.id = d.command_id
           WHERE d.device = ? AND c.state IN ('queued', 'sent')`,
        )
        .pluck()
        .all(device.id) as string[]
      for (const id of open) this.opts.commands.withdraw(id, `superseded by version ${version}`, nowMs)
      db.prepare(
        `INSERT INTO device_config (device, version, settings, command_id, created_by, created_at_ms)
         VALUES (?, ?, ?, ?, ?, ?)`,
      ).run(device.id, version, JSON.stringify(settings), commandId, actor.id || null, nowMs)
      new AuditLog(this.opts.registry, () => nowMs).record(actor, 'config.set', device.id, {
        version,
        settings,
      })
      // Last: the command may go out at once, and nothing after it can roll back.
      this.opts.commands.submit(
        {
          id: commandId,
          device: device.id,
          kind: 'set_config',
          params: { version, ...settings },
          expiresInS: this.opts.expiryS,
        },
        actor.id || undefined,
        nowMs,
      )
      this.log.info({ device: device.id, version, settings, by: actor.id }, 'configuration set')
      return true
    })()
    return { view: this.get(device.id), created }
  }

  /** A node's answer that carries its applied configuration: the device's reported configuration. */
  private onAnswer(command: Command, ack: CommandAck): void {
    if (!ack.config || !this.db) return
    const { version, ...settings } = ack.config
    this.db
      .prepare(
        `INSERT INTO device_config_reported (device, version, settings, command_id, reported_at_ms)
         VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (device) DO UPDATE SET version = excluded.version, settings = excluded.settings,
           command_id = excluded.command_id, reported_at_ms = excluded.reported_at_ms`,
      )
      .run(command.device, version, JSON.stringify(settings), command.id, Date.now())
  }
}
