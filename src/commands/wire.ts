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

export const COMMAND_PARAMS = {
  set_config: z
    .strictObject({
      reportIntervalS: z.number().int().min(1).max(MAX_REPORT_INTERVAL_S).optional(),
    })
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

/** What the device answers on its ack topic: done, or refused/failed with a reason. */
export interface CommandAck {
  id: string
  ok: boolean
  error?: string
}

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

/** A device's ack, or undefined when it is not one. */
export function parseAck(payload: Buffer | string): CommandAck | undefined {
  const parsed = ackSchema.safeParse(json(payload))
  return parsed.success ? parsed.data : undefined
}
