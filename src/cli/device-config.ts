import { Command, InvalidArgumentError } from 'commander'
import { cliActor } from '../audit/index.ts'
import {
  CommandService,
  NODE_SETTING_NAMES,
  NodeConfigService,
  type NodeConfigView,
  type NodeSettingName,
  type NodeSettings,
} from '../commands/index.ts'
import type { Config } from '../config.ts'
import type { Registry } from '../registry/index.ts'
import { action, type CliIo, consoleIo } from './devices.ts'

const settingName = (name: string): NodeSettingName => {
  if (!(NODE_SETTING_NAMES as string[]).includes(name))
    throw new InvalidArgumentError(`unknown setting "${name}": one of ${NODE_SETTING_NAMES.join(', ')}.`)
  return name as NodeSettingName
}

/** `--set reportIntervalS=600`, repeatable. */
function setting(value: string, previous: NodeSettings = {}): NodeSettings {
  const eq = value.indexOf('=')
  if (eq < 1) throw new InvalidArgumentError(`--set takes name=value, not "${value}".`)
  const n = Number(value.slice(eq + 1))
  if (value.slice(eq + 1).trim() === '' || !Number.isFinite(n))
    throw new InvalidArgumentError(`--set ${value.slice(0, eq)} takes a number.`)
  return { ...previous, [settingName(value.slice(0, eq))]: n }
}

const unset = (value: string, previous: NodeSettingName[] = []) => [...previous, settingName(value)]

const settingsText = (s: NodeSettings) =>
  NODE_SETTING_NAMES.filter((k) => s[k] !== undefined)
    .map((k) => `${k}=${s[k]}`)
    .join(' ') || '(defaults)'

const iso = (ms: number) => new Date(ms).toISOString()

/** The view as a few lines: status, desired, reported. */
export function configLines(v: NodeConfigView): string[] {
  const status =
    v.status === 'waiting'
      ? `waiting since ${iso(v.waitingSinceMs!)} (${v.command?.state})`
      : v.status === 'failed'
        ? `failed: ${v.error}`
        : v.status.replace('_', ' ')
  const lines = [`${v.device}: ${status}`]
  if (v.desired)
    lines.push(
      `  desired   v${v.desired.version}  ${settingsText(v.desired.settings)}  by ${v.desired.createdBy ?? '?'} ${iso(v.desired.createdAtMs)}`,
    )
  else lines.push('  desired   none')
  if (v.reported)
    lines.push(
      `  reported  v${v.reported.version}  ${settingsText(v.reported.settings)}  at ${iso(v.reported.reportedAtMs)}`,
    )
  else lines.push('  reported  nothing yet')
  return lines
}

/**
 * `kampung devices config <id> [--set name=value]… [--unset name]… [--json]`: a device's desired
 * configuration against what it reported. With --set/--unset, a new desired version from the
 * current one (recorded in the audit trail as the person at the command line); the running service
 * sends it within `commands.checkEveryMs` when the device is online, or when it comes back.
 */
export function deviceConfigCommand(
  getRegistry: () => Promise<Registry>,
  commandsConfig: () => Omit<Config['commands'], 'sendFrom'>,
  io: CliIo = consoleIo,
): Command {
  return new Command('config')
    .description('desired configuration against reported; --set makes a new version')
    .argument('<id>', 'the device')
    .option(
      '--set <name=value>',
      `a setting, repeatable (${NODE_SETTING_NAMES.join(', ')}), e.g. reportIntervalS=600`,
      setting,
    )
    .option('--unset <name>', 'drop a setting (the node goes back to its default), repeatable', unset)
    .option('--json', 'as JSON')
    .action(
      action(
        getRegistry,
        io,
        async (
          registry: Registry,
          id: string,
          o: { set?: NodeSettings; unset?: NodeSettingName[]; json?: boolean },
        ) => {
          const c = commandsConfig()
          // No link: this process only records; the service's broker sends.
          const commands = new CommandService({ ...c, registry })
          const config = new NodeConfigService({ registry, commands, expiryS: c.maxExpiryS })
          await commands.start()
          await config.start()
          try {
            let view = config.get(id)
            if (o.set || o.unset) {
              const next: NodeSettings = { ...view.desired?.settings, ...o.set }
              for (const k of o.unset ?? []) delete next[k]
              const result = config.set(id, next, cliActor())
              view = result.view
              if (!o.json)
                io.out(
                  result.created
                    ? `version ${view.desired!.version} queued as ${view.desired!.commandId}`
                    : `no change: version ${view.desired!.version} is that configuration`,
                )
            }
            if (o.json) io.out(JSON.stringify(view, null, 2))
            else for (const l of configLines(view)) io.out(l)
          } finally {
            await config.stop()
            await commands.stop()
          }
        },
      ),
    )
}
