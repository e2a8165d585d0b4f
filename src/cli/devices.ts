import { Command, InvalidArgumentError, Option } from 'commander'
import { AuditLog, cliActor } from '../audit/index.ts'
import { KampungError } from '../errors.ts'
import {
  checkChannels,
  DEVICE_KINDS,
  type Device,
  type DeviceKind,
  type Registry,
} from '../registry/index.ts'
import { PAYLOAD_FORMATS, type PayloadFormat, topics } from '../telemetry/index.ts'

/** Where the commands write; tests pass their own. */
export interface CliIo {
  out: (line: string) => void
  err: (line: string) => void
}

export const consoleIo: CliIo = {
  out: (line) => console.log(line),
  err: (line) => console.error(line),
}

/**
 * Runs an action with a registry from `getRegistry` (which these commands own and stop). A user
 * error (KampungError) prints one line and sets exit code 1; anything else is a bug and goes up.
 */
export function action<A extends unknown[]>(
  getRegistry: () => Promise<Registry>,
  io: CliIo,
  run: (registry: Registry, ...args: A) => Promise<void> | void,
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    let registry: Registry | undefined
    try {
      registry = await getRegistry()
      await run(registry, ...args)
    } catch (err) {
      if (!(err instanceof KampungError)) throw err
      io.err(`error: ${err.message}`)
      process.exitCode = 1
    } finally {
      await registry?.stop()
    }
  }
}

/** Degrees to 6 decimals (about 0.1 m), without float noise such as -8.198099999999998. */
export function formatCoordinate(deg: number | undefined): string {
  return deg === undefined ? '' : String(Number(deg.toFixed(6)))
}

export function coordinate(name: string, limit: number): (value: string) => number {
  return (value) => {
    const n = Number(value)
    if (value.trim() === '' || !Number.isFinite(n) || Math.abs(n) > limit) {
      throw new InvalidArgumentError(`${name} must be a number from -${limit} to ${limit}.`)
    }
    return n
  }
}

function parseChannels(value: string): NonNullable<Device['channels']> {
  let parsed: unknown
  try {
    parsed = JSON.parse(value)
  } catch {
    throw new InvalidArgumentError(
      'not valid JSON, e.g. \'{"1":{"quantity":"soil_moisture","sensor":"soil1"}}\'.',
    )
  }
  try {
    return checkChannels(parsed)
  } catch (err) {
    throw new InvalidArgumentError(`${(err as Error).message}.`)
  }
}

/** Fixed-width columns, no dependency. */
export function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd()
  return [line(header), ...rows.map(line)]
}

function printSecret(io: CliIo, device: Device, secret: string): void {
  io.out(`secret: ${secret}`)
  io.out('This secret will not be shown again: store it on the device now (MQTT password / HTTP API key).')
  io.out(
    `MQTT: username ${device.id}, client id ${device.id}, publish to ${topics.up(device.village, device.id)}`,
  )
}

/** `devices add|list|rotate-secret|remove`: the device registry from the command line. */
export function devicesCommand(getRegistry: () => Promise<Registry>, io: CliIo = consoleIo): Command {
  const devices = new Command('devices').description('register devices and manage their secrets')

  devices
    .command('add <id>')
    .description('register a device and print its secret (shown only this once)')
    .requiredOption('--village <village>', 'the village it belongs to (must exist: villages add)')
    .addOption(new Option('--kind <kind>', 'what it is').choices(DEVICE_KINDS).makeOptionMandatory())
    .addOption(
      new Option('--format <format>', 'its payload format').choices(PAYLOAD_FORMATS).makeOptionMandatory(),
    )
    .option('--lat <deg>', 'latitude (WGS 84)', coordinate('lat', 90))
    .option('--lon <deg>', 'longitude (WGS 84)', coordinate('lon', 180))
    .option(
      '--channels <json>',
      'Cayenne LPP channel map, e.g. \'{"1":{"quantity":"soil_moisture"}}\'',
      parseChannels,
    )
    .action(
      action(
        getRegistry,
        io,
        async (
          registry,
          id: string,
          o: {
            village: string
            kind: DeviceKind
            format: PayloadFormat
            lat?: number
            lon?: number
            channels?: Device['channels']
          },
        ) => {
          const { device, secret } = await registry.addDevice({ id, ...o })
          new AuditLog(registry).record(cliActor(), 'device.add', device.id, o)
          io.out(`added device ${device.id} (${device.kind}, ${device.format}) in village ${device.village}`)
          printSecret(io, device, secret)
        },
      ),
    )

  devices
    .command('list')
    .description('list devices')
    .option('--village <village>', 'only this village')
    .option('--json', 'print JSON instead of a table')
    .action(
      action(getRegistry, io, (registry, o: { village?: string; json?: boolean }) => {
        const list = registry.listDevices({ village: o.village })
        if (o.json) return io.out(JSON.stringify(list, null, 2))
        const rows = list.map((d) => [
          d.id,
          d.village,
          d.kind,
          d.format,
          formatCoordinate(d.lat),
          formatCoordinate(d.lon),
          new Date(d.createdAtMs).toISOString(),
        ])
        for (const line of table(['ID', 'VILLAGE', 'KIND', 'FORMAT', 'LAT', 'LON', 'CREATED'], rows))
          io.out(line)
        io.out(`${list.length} device(s)`)
      }),
    )

  devices
    .command('rotate-secret <id>')
    .description('issue a new secret; the old one stops working at once')
    .action(
      action(getRegistry, io, async (registry, id: string) => {
        const secret = await registry.rotateSecret(id)
        new AuditLog(registry).record(cliActor(), 'device.rotate-secret', id)
        io.out(`new secret for device ${id}; the old one no longer works`)
        printSecret(io, registry.getDevice(id)!, secret)
      }),
    )

  devices
    .command('remove <id>')
    .description('remove a device (its readings stay in the store)')
    .action(
      action(getRegistry, io, (registry, id: string) => {
        if (!registry.removeDevice(id)) {
          throw new KampungError('unknown_device', `device "${id}" is not registered`, { retryable: false })
        }
        new AuditLog(registry).record(cliActor(), 'device.remove', id)
        io.out(`removed device ${id}`)
      }),
    )

  return devices
}

/** `villages add|list`. */
export function villagesCommand(getRegistry: () => Promise<Registry>, io: CliIo = consoleIo): Command {
  const villages = new Command('villages').description('manage villages (devices belong to one)')

  villages
    .command('add <id>')
    .description('add a village, or rename an existing one')
    .requiredOption('--name <name>', 'its name, e.g. "Desa Kemiren"')
    .action(
      action(getRegistry, io, (registry, id: string, o: { name: string }) => {
        const village = registry.addVillage({ id, name: o.name })
        new AuditLog(registry).record(cliActor(), 'village.add', id, o)
        io.out(`village ${village.id}: ${village.name}`)
      }),
    )

  villages
    .command('list')
    .description('list villages')
    .option('--json', 'print JSON instead of a table')
    .action(
      action(getRegistry, io, (registry, o: { json?: boolean }) => {
        const list = registry.listVillages()
        if (o.json) return io.out(JSON.stringify(list, null, 2))
        const counts = new Map<string, number>()
        for (const d of registry.listDevices()) counts.set(d.village, (counts.get(d.village) ?? 0) + 1)
        const rows = list.map((v) => [v.id, v.name, String(counts.get(v.id) ?? 0)])
        for (const line of table(['ID', 'NAME', 'DEVICES'], rows)) io.out(line)
      }),
    )

  return villages
}
