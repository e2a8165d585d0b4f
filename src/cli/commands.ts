import { randomUUID } from 'node:crypto'
import { Command, InvalidArgumentError, Option } from 'commander'
import { COMMAND_KINDS, CommandService, type Command as DeviceCommand } from '../commands/index.ts'
import type { Config } from '../config.ts'
import type { Registry } from '../registry/index.ts'
import { action, type CliIo, consoleIo } from './devices.ts'
import { positiveInt } from './options.ts'

/** `key=value`, the value a number when it reads as one: `--param reportIntervalS=600`. */
function param(value: string, previous: Record<string, unknown> = {}): Record<string, unknown> {
  const eq = value.indexOf('=')
  if (eq < 1) throw new InvalidArgumentError(`--param takes key=value, not "${value}".`)
  const raw = value.slice(eq + 1)
  const n = Number(raw)
  return { ...previous, [value.slice(0, eq)]: raw.trim() !== '' && Number.isFinite(n) ? n : raw }
}

function line(c: DeviceCommand): string {
  const params = Object.keys(c.params).length ? ` ${JSON.stringify(c.params)}` : ''
  const error = c.error ? ` (${c.error})` : ''
  return `${c.id}  ${c.device}  ${c.kind}${params}  ${c.state}${error}  created ${new Date(c.createdAtMs).toISOString()}  expires ${new Date(c.expiresAtMs).toISOString()}  sent ${c.sends}x  acks ${c.acks}`
}

/**
 * `kampung commands send|list|show`: commands to devices, written to the registry file the service
 * reads. The running service sends a queued command within `commands.checkEveryMs` if its device
 * is online, or when it comes back.
 */
export function commandsCommand(
  getRegistry: () => Promise<Registry>,
  /** Expiry and resend settings (`sendFrom` is the running service's business, not the CLI's). */
  commandsConfig: () => Omit<Config['commands'], 'sendFrom'>,
  io: CliIo = consoleIo,
): Command {
  const cmd = new Command('commands').description(
    'commands to devices (set_config, reboot, valve_open, valve_close)',
  )
  const withService =
    <A extends unknown[]>(fn: (service: CommandService, ...args: A) => void) =>
    async (registry: Registry, ...args: A) => {
      // No link: this process only records; the service's sending role (commands.sendFrom) sends.
      const service = new CommandService({ ...commandsConfig(), registry })
      await service.start()
      try {
        fn(service, ...args)
      } finally {
        await service.stop()
      }
    }

  cmd
    .command('send <device> <kind>')
    .description(`queue a command (${COMMAND_KINDS.join(', ')}); sending the same --id again changes nothing`)
    .option('--param <key=value>', 'a parameter, repeatable: reportIntervalS=600, maxDurationS=1800', param)
    .option('--id <id>', 'your id for this command (default: a new UUID); reuse it to retry safely')
    .option(
      '--expires-in <s>',
      'seconds it may wait for an offline device (default commands.defaultExpiryS)',
      positiveInt('--expires-in'),
    )
    .addOption(new Option('--by <user>', 'who is sending (recorded with the command)'))
    .action(
      action(
        getRegistry,
        io,
        withService(
          (
            service,
            device: string,
            kind: string,
            o: { param?: Record<string, unknown>; id?: string; expiresIn?: number; by?: string },
          ) => {
            const { command, created } = service.submit(
              { id: o.id ?? randomUUID(), device, kind, params: o.param ?? {}, expiresInS: o.expiresIn },
              o.by ?? 'cli',
            )
            io.out(`${created ? 'queued' : 'already there'}: ${line(command)}`)
          },
        ),
      ),
    )

  cmd
    .command('list <device>')
    .description("a device's commands, newest first")
    .option('--limit <n>', 'at most this many', positiveInt('--limit'), 20)
    .option('--json', 'as JSON')
    .action(
      action(
        getRegistry,
        io,
        withService((service, device: string, o: { limit: number; json?: boolean }) => {
          const list = service.list(device, o.limit)
          if (o.json) return io.out(JSON.stringify(list, null, 2))
          if (list.length === 0) return io.out(`no commands for ${device}`)
          for (const c of list) io.out(line(c))
        }),
      ),
    )

  cmd
    .command('show <id>')
    .description('one command and its state (queued, sent, acknowledged, failed, expired)')
    .action(
      action(
        getRegistry,
        io,
        withService((service, id: string) => {
          const c = service.get(id)
          if (!c) {
            io.err(`error: no command ${id}`)
            process.exitCode = 1
            return
          }
          io.out(JSON.stringify(c, null, 2))
        }),
      ),
    )
  return cmd
}
