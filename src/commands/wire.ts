import { z } from 'zod'

/**
 * The command kinds and their parameters, and the two messages on the wire: the command on
 * `kampung/<village>/<device>/down` and the device's answer on `kampung/<village>/<device>/ack`.
 * Shared by the service, the gateway and the node firmware (firmware-sim/node).
 */

/** A report interval a node can keep: a second (tests, demos) to a day. */
const MAX_REPORT_INTERVAL_S = 86_400
/** A valve is never asked to stay open longer than 12 hours (a paddy's longest irrigation turn). */
const MAX_VALVE_OPEN_S = 12 * 3_600

/**
 * A node's configuration settings (issue 17 scope 2): what a `set_config` carries and what the node
 * reports as applied. `dryThresholdPct` and `irrigateS` are a valve node's local rule: when a report's
 * soil moisture (VWC %) is under the threshold and its valve is closed, the node opens it for
 * `irrigateS` (default DEFAULT_IRRIGATE_S) by itself, even while its link is down.
 */
export const NODE_SETTINGS = {
  reportIntervalS: z.number().int().min(1).max(MAX_REPORT_INTERVAL_S),
  dryThresholdPct: z.number().min(0).max(100),
  irrigateS: z.number().int().min(1).max(MAX_VALVE_OPEN_S),
} as const
export type NodeSettingName = keyof typeof NODE_SETTINGS
export const NODE_SETTING_NAMES = Object.keys(NODE_SETTINGS) as NodeSettingName[]
export type NodeSettings = { [K in NodeSettingName]?: z.infer<(typeof NODE_SETTINGS)[K]> }
/** How long a valve node's local dry rule opens its valve when no `irrigateS` is set: 30 min. */
export const DEFAULT_IRRIGATE_S = 30 * 60

/** The settings, every one optional, unknown keys refused. */
export const nodeSettingsSchema = z.strictObject({
  reportIntervalS: NODE_SETTINGS.reportIntervalS.optional(),
  dryThresholdPct: NODE_SETTINGS.dryThresholdPct.optional(),
  irrigateS: NODE_SETTINGS.irrigateS.optional(),
})

export const COMMAND_PARAMS = {
  /**
   * Without `version`: the settings given change, the others stay. With `version` (from the
   * versioned desired configuration, src/commands/config.ts): the whole configuration, what it
   * leaves out goes back to the node's default, and a node that applied a version never applies
   * an older one.
   */
  set_config: nodeSettingsSchema
    .extend({ version: z.number().int().min(1).optional() })
    .refine((c) => Object.keys(c).length > 0, 'at least one setting'),
  reboot: z.strictObject({}),
  valve_open: z.strictObject({ maxDurationS: z.number().int().min(1).max(MAX_VALVE_OPEN_S) }),
  valve_close: z.strictObject({}),
} as const

export type CommandKind = keyof typeof COMMAND_PARAMS
export const COMMAND_KINDS = Object.keys(COMMAND_PARAMS) as CommandKind[]
export type CommandParams = { [K in CommandKind]: z.infer<(typeof COMMAND_PARAMS)[K]> }

export const COMMAND_STATES = ['queued', 'sent', 'acknowledged', 'failed', 'expired'] as const
export type CommandState = (typeof COMMAND_STATES)[number]

/** What the device receives on its down topic (QoS 1). */
export interface CommandMessage {
  id: string
  kind: CommandKind
  params: Record<string, unknown>
  expiresAtMs: number
}

/**
 * What a node reports as applied, in its answer to a `set_config` (and to any command, if it
 * likes): the version of the desired configuration it runs (0: none yet) and every setting in effect.
 */
export type AppliedConfig = NodeSettings & { version: number; reportIntervalS: number }

/** What the device answers on its ack topic: done, or refused/failed with a reason. */
export interface CommandAck {
  id: string
  ok: boolean
  error?: string
  /** The configuration in effect after this command (nodes answering a `set_config`). */
  config?: AppliedConfig
}

const appliedConfigSchema = nodeSettingsSchema.extend({
  version: z.number().int().min(0),
  reportIntervalS: NODE_SETTINGS.reportIntervalS,
})

const commandMessageSchema = z.object({
  id: z.string().min(1).max(100),
  kind: z.enum(COMMAND_KINDS as [CommandKind, ...CommandKind[]]),
  params: z.record(z.string(), z.unknown()),
  expiresAtMs: z.number(),
})

const ackSchema = z.object({
  id: z.string().min(1).max(100),
  ok: z.boolean(),
  error: z.string().max(500).optional(),
  config: z.unknown().optional(),
})

function json(payload: Buffer | string): unknown {
  try {
    return JSON.parse(typeof payload === 'string' ? payload : payload.toString('utf8'))
  } catch {
    return undefined
  }
}

/** A command from the down topic with its parameters checked, or why not (never an exception). */
export function parseCommandMessage(
  payload: Buffer | string,
): { ok: true; command: CommandMessage } | { ok: false; id?: string; error: string } {
  const body = json(payload)
  const parsed = commandMessageSchema.safeParse(body)
  if (!parsed.success) {
    const id = (body as { id?: unknown } | undefined)?.id
    return { ok: false, id: typeof id === 'string' ? id : undefined, error: 'malformed command' }
  }
  const params = COMMAND_PARAMS[parsed.data.kind].safeParse(parsed.data.params)
  if (!params.success) return { ok: false, id: parsed.data.id, error: `bad params: ${params.error.message}` }
  return { ok: true, command: { ...parsed.data, params: params.data as Record<string, unknown> } }
}

/**
 * A device's ack, or undefined when it is not one. A `config` that does not read as an applied
 * configuration is left out (the answer itself still counts).
 */
export function parseAck(payload: Buffer | string): CommandAck | undefined {
  const parsed = ackSchema.safeParse(json(payload))
  if (!parsed.success) return undefined
  const { config, ...ack } = parsed.data
  const applied = config === undefined ? undefined : appliedConfigSchema.safeParse(config)
  return applied?.success ? { ...ack, config: applied.data } : ack
}
