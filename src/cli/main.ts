#!/usr/bin/env node
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { Command } from 'commander'
import { Directory } from '../alerts/index.ts'
import { KampungApp, type Roles } from '../app.ts'
import { AuditLog, cliActor } from '../audit/index.ts'
import { type Config, ConfigError, loadConfig, redactSecrets, resolvePaths } from '../config.ts'
import { privateDir } from '../files.ts'
import { getLogger } from '../log.ts'
import { Registry } from '../registry/index.ts'
import { SCHEMAS } from '../schemas.ts'
import type { TelemetryStore } from '../store/index.ts'
import { InfluxStore, SqliteStore } from '../store/index.ts'
import { isQuantity, QUANTITY_NAMES, unitOf } from '../telemetry/index.ts'
import { alertsCommands } from './alerts.ts'
import { auditCommand } from './audit.ts'
import { commandsCommand } from './commands.ts'
import { deviceConfigCommand } from './device-config.ts'
import { devicesCommand, villagesCommand } from './devices.ts'
import { exportCommand } from './export.ts'
import { importCommand } from './import.ts'
import { positiveInt } from './options.ts'
import { storeForCommand, writeServiceFile } from './service-file.ts'
import type { Simulation } from './sim.ts'
import { treesCommand } from './trees.ts'
import { usersCommand } from './users.ts'

/**
 * The simulator is loaded only when asked for: johnny-five pulls in node:repl, which loads
 * node:domain, which makes every EventEmitter.emit in the process slower (seen in the ingest
 * benchmark profile).
 */
const loadSim = () => import('./sim.ts')

const log = getLogger('cli')

function config(opts: { config?: string }): Config {
  return loadConfig({ file: opts.config })
}

/** Stop cleanly on Ctrl-C / SIGTERM: `stops` run in order, then the process exits 0. */
function onShutdown(stops: Array<() => Promise<void>>): void {
  let stopping = false
  const shutdown = async (signal: string) => {
    if (stopping) return
    stopping = true
    log.info({ signal }, 'stopping: draining buffers')
    for (const stop of stops) {
      try {
        await stop()
      } catch (err) {
        log.error({ err }, 'error while stopping')
      }
    }
    log.info('stopped')
    process.exit(0)
  }
  process.on('SIGINT', () => void shutdown('SIGINT'))
  process.on('SIGTERM', () => void shutdown('SIGTERM'))
}

/** Run the given roles (and the simulated district when asked) until SIGINT/SIGTERM, then drain. */
async function run(opts: { config?: string }, roles: (c: Config) => Roles, withSim = false): Promise<void> {
  const cfg = config(opts)
  const app = new KampungApp(cfg, roles(cfg))
  let sim: Simulation | undefined
  let removeServiceFile = () => {}
  onShutdown([async () => sim?.stop(), () => app.stop(), async () => removeServiceFile()])
  try {
    await app.start()
  } catch (err) {
    await app.stop()
    throw err
  }
  if (app.roles.ingest || app.roles.api) removeServiceFile = writeServiceFile(cfg)
  const parts: string[] = []
  if (app.broker) parts.push(`MQTT broker on ${cfg.broker.host}:${app.broker.port}`)
  if (app.mqttIngest) parts.push(`ingest from ${cfg.ingest.mqtt.url}`)
  if (app.stateFeed) parts.push(`state worker on ${cfg.ingest.mqtt.url}`)
  if (app.commandLink) parts.push(`commands to devices through ${cfg.ingest.mqtt.url}`)
  if (app.api)
    parts.push(`API on http://${cfg.api.host === '0.0.0.0' ? 'localhost' : cfg.api.host}:${app.api.port}`)
  const store =
    cfg.store.kind === 'influx' ? `InfluxDB ${cfg.store.influx.url}` : `SQLite ${resolvePaths(cfg).sqlite}`
  const storeNote = app.roles.ingest || app.roles.api ? `; store: ${store}` : ''
  console.log(`smart-kampung running: ${parts.join(', ')}${storeNote}. Ctrl-C stops.`)
  if ((withSim || cfg.sim.enabled) && app.broker) {
    const { startSimulation } = await loadSim()
    sim = await startSimulation({
      cfg,
      registry: app.registry,
      url: `mqtt://127.0.0.1:${app.broker.port}`,
      metrics: app.metrics,
      directory: app.alerts?.directory,
    })
    const nodes = sim.villages.reduce((n, v) => n + v.nodes.length, 0)
    console.log(
      `simulated district: ${sim.villages.length} villages (${sim.villages.map((v) => v.id).join(', ')}), ${nodes} nodes, ` +
        `replaying ${cfg.sim.backfillDays} days then live; try: npm run kampung -- readings soil_moisture --village ${sim.villages[0]!.id}`,
    )
  }
}

/** `kampung sim` / `kampung gateway`: the simulated district (or one village of it) against a broker. */
async function runSim(
  opts: { url: string; village?: string; serial?: Record<string, string> },
  overrides: Partial<Config['sim']>,
): Promise<void> {
  const base = config(program.opts())
  const cfg = { ...base, sim: { ...base.sim, ...overrides } }
  const registry = new Registry({ path: resolvePaths(cfg).registry, schemas: SCHEMAS })
  privateDir(cfg.dataDir)
  await registry.start()
  const { startSimulation } = await loadSim()
  const sim = await startSimulation({
    cfg,
    registry,
    url: opts.url,
    village: opts.village,
    serial: opts.serial,
  })
  onShutdown([() => sim.stop(), () => registry.stop()])
  const nodes = sim.villages.reduce((n, v) => n + v.nodes.length, 0)
  console.log(`simulating ${sim.villages.length} villages, ${nodes} nodes against ${opts.url}. Ctrl-C stops.`)
}

function int(name: string) {
  return (value: string) => {
    const n = Number(value)
    if (!Number.isFinite(n)) throw new Error(`${name}: "${value}" is not a number`)
    return n
  }
}

/** `--faults` takes JSON or @file: node id → fault specs. */
function faultsOption(value: string): Record<string, unknown[]> {
  const text = value.startsWith('@') ? readFileSync(value.slice(1), 'utf8') : value
  try {
    return JSON.parse(text) as Record<string, unknown[]>
  } catch (err) {
    throw new Error(`--faults: not JSON (${(err as Error).message})`)
  }
}

const program = new Command()
program
  .name('kampung')
  .description('Smart Kampung: village sensor telemetry, alerts and tree verification')
  .option('-c, --config <file>', 'config file (YAML or JSON); env KAMPUNG_CONFIG')

program
  .command('up')
  .description('run everything in one process: broker, ingest, store, API')
  .option('--sim', 'also run the simulated district of config "sim" (what npm start does)')
  .action((o) =>
    run(
      program.opts(),
      (c) => ({ broker: c.broker.enabled, ingest: true, api: c.api.enabled }),
      Boolean(o.sim),
    ),
  )

const simOptions = (c: Command) =>
  c
    .option('--url <url>', 'the broker', 'mqtt://127.0.0.1:1883')
    .option('--villages <n>', 'number of villages', int('--villages'))
    .option(
      '--nodes <n>',
      'nodes per village: one weather station, the rest soil nodes and dendrometers (3:2)',
      int('--nodes'),
    )
    .option('--fields <n>', 'soil nodes per village', int('--fields'))
    .option('--trees <n>', 'dendrometer nodes per village', int('--trees'))
    .option('--speed <x>', 'simulated ms per real ms while catching up', int('--speed'))
    .option('--seed <n>', 'seed of the whole district', int('--seed'))
    .option('--backfill-days <d>', 'simulated history before now', int('--backfill-days'))
    .option('--interval-ms <ms>', 'simulated time between reports', int('--interval-ms'))
    .option(
      '--driver <board|direct>',
      'board: johnny-five firmware on mock Firmata; direct: models only (load mode)',
    )
    .option(
      '--faults <json|@file>',
      'faults per node id, e.g. {"kemiren-pohon2":[{"kind":"dead_tree","fromMs":0}]}',
      faultsOption,
    )

/** `--nodes n`: one weather station, then soil nodes and dendrometers 3:2. */
function splitNodes(n: unknown): { fields?: number; trees?: number } {
  if (typeof n !== 'number') return {}
  if (n < 1) throw new Error('--nodes: at least 1 (the weather station)')
  const fields = Math.round(((n - 1) * 3) / 5)
  return { fields, trees: n - 1 - fields }
}

const simOverrides = (o: Record<string, unknown>): Partial<Config['sim']> => {
  const split = splitNodes(o.nodes)
  return Object.fromEntries(
    Object.entries({
      villages: o.villages,
      fieldsPerVillage: o.fields ?? split.fields,
      treesPerVillage: o.trees ?? split.trees,
      speed: o.speed,
      seed: o.seed,
      backfillDays: o.backfillDays,
      reportIntervalMs: o.intervalMs,
      faults: o.faults,
      driver: o.driver,
    }).filter(([, v]) => v !== undefined),
  ) as Partial<Config['sim']>
}

simOptions(program.command('sim'))
  .description(
    'a simulated district (weather stations, fields, trees, village gateways) against any broker; devices are provisioned in the local registry',
  )
  .action((o) => runSim({ url: o.url }, simOverrides(o)))

simOptions(program.command('gateway'))
  .description('one village gateway with its simulated nodes (durable queue, forwards to the broker)')
  .requiredOption('--village <id>', 'the village, e.g. kemiren')
  .option(
    '--serial <node=port>',
    'a real board (Arduino with StandardFirmata) for a node, e.g. kemiren-sawah1=/dev/ttyACM0; repeatable',
    (value: string, all: Record<string, string> = {}) => {
      const [node, port] = value.split('=')
      if (!node || !port) throw new Error(`--serial "${value}": expected <node id>=<serial port>`)
      return { ...all, [node]: port }
    },
  )
  .action((o) => runSim({ url: o.url, village: o.village, serial: o.serial }, simOverrides(o)))

program
  .command('broker')
  .description('run only the MQTT broker (ingest runs elsewhere as an MQTT client)')
  .action(() => run(program.opts(), () => ({ broker: true, ingest: false, api: false })))

program
  .command('ingest')
  .description('run only an ingest worker: an MQTT client of the broker in ingest.mqtt.url')
  .option('--api', 'also serve the HTTP API (telemetry POST, /metrics)')
  .action((o) => run(program.opts(), () => ({ broker: false, ingest: true, api: Boolean(o.api) })))

program
  .command('state')
  .description(
    'run only a state worker: alerts, SMS and Oksigen for the villages of alerts.partition, on its own MQTT subscription (stores nothing)',
  )
  .option('--api', 'also serve the HTTP API (alerts routes, SMS gateway callbacks, /metrics)')
  .action((o) =>
    run(program.opts(), () => ({ broker: false, ingest: false, api: Boolean(o.api), state: true })),
  )

program
  .command('config')
  .description('check the configuration and print it with every default filled in (credentials as ***)')
  .action(() => {
    console.log(JSON.stringify(redactSecrets(config(program.opts())), null, 2))
  })

/** The store for reading only (no spool: readings not yet drained are not queryable anyway). */
function openStore(cfg: Config): TelemetryStore {
  return cfg.store.kind === 'influx'
    ? new InfluxStore(cfg.store.influx)
    : new SqliteStore({ path: resolvePaths(cfg).sqlite })
}

async function openRegistry(): Promise<Registry> {
  const opts = program.opts<{ config?: string }>()
  const registry = new Registry({ path: resolvePaths(config(opts)).registry, schemas: SCHEMAS })
  privateDir(config(opts).dataDir)
  await registry.start()
  return registry
}

/** An audit log entry by the person at this command line (src/audit). */
async function audited(action: string, target: string, detail?: Record<string, unknown>): Promise<void> {
  const registry = await openRegistry()
  try {
    new AuditLog(registry).record(cliActor(), action, target, detail)
  } finally {
    await registry.stop()
  }
}

program
  .command('readings <quantity>')
  .description(`stored readings of one quantity, newest last (${QUANTITY_NAMES.join(', ')})`)
  .option('--village <id>')
  .option('--device <id>')
  .option('--sensor <name>')
  .option('--since <duration>', 'how far back: 30m, 6h, 7d', '24h')
  .option('--limit <n>', 'at most this many (the newest)', positiveInt('--limit'), 50)
  .option('--json', 'print JSON')
  .action(async (quantity: string, o) => {
    if (!isQuantity(quantity))
      throw new Error(`unknown quantity "${quantity}"; one of ${QUANTITY_NAMES.join(', ')}`)
    const m = /^(\d+)([smhd])$/.exec(o.since)
    if (!m) throw new Error(`--since "${o.since}": expected a number and s, m, h or d (e.g. 6h)`)
    const sinceMs = Number(m[1]) * { s: 1e3, m: 6e4, h: 3.6e6, d: 8.64e7 }[m[2] as 's' | 'm' | 'h' | 'd']
    // The store of the service running on this data dir, whatever this shell's config says; which
    // one was read goes to stderr, so stdout stays the readings alone.
    const { cfg, note } = storeForCommand(config(program.opts()))
    console.error(note)
    const store = openStore(cfg)
    await store.start()
    try {
      const all = await store.query({
        quantity,
        village: o.village,
        device: o.device,
        sensor: o.sensor,
        fromMs: Date.now() - sinceMs,
      })
      const readings = all.slice(-(o.limit as number))
      if (o.json) return console.log(JSON.stringify(readings, null, 2))
      if (readings.length === 0) return console.log(`no ${quantity} readings in the last ${o.since}`)
      for (const r of readings) {
        console.log(
          `${new Date(r.timeMs).toISOString()}  ${r.village}/${r.device}/${r.sensor}  ${r.value} ${unitOf(quantity)}`,
        )
      }
    } finally {
      await store.stop()
    }
  })
program.addCommand(
  devicesCommand(openRegistry).addCommand(
    deviceConfigCommand(openRegistry, () => config(program.opts()).commands),
  ),
)
program.addCommand(
  importCommand({
    getRegistry: openRegistry,
    directoryOf: (registry) =>
      new Directory({ registry, quietHours: config(program.opts()).alerts.quietHours }),
    treesOf: async (registry) => {
      const { TreeRepo } = await import('../oksigen/index.ts')
      const repo = new TreeRepo(
        registry,
        path.join(resolvePaths(config(program.opts())).oksigenDir, 'pseudonym.key'),
      )
      await repo.start()
      return repo
    },
  }),
)
program.addCommand(villagesCommand(openRegistry))
program.addCommand(usersCommand(openRegistry))
program.addCommand(auditCommand(openRegistry))
for (const c of alertsCommands(openRegistry, () => config(program.opts()).alerts)) program.addCommand(c)
program.addCommand(commandsCommand(openRegistry, () => config(program.opts()).commands))
program
  .command('kannel-config')
  .description(
    "Kannel's smsbox `sms-service` group for notify.kannel: farmers' replies go to our MO callback, with callbackToken as HTTP Basic",
  )
  .action(async () => {
    const { kannelMoService } = await import('../notify/index.ts')
    const kannel = config(program.opts()).notify.kannel
    if (!kannel.callbackToken)
      console.error(
        '# notify.kannel.callbackToken is not set: the callbacks then rely on callbackAllowFrom alone',
      )
    process.stdout.write(kannelMoService(kannel))
  })
program
  .command('keys')
  .description(
    'certificate signing keys: list, or rotate (old records stay valid; restart the service to sign with the new key)',
  )
  .argument('[action]', 'list | rotate', 'list')
  .action(async (action: string) => {
    const { KeyRing } = await import('../oksigen/index.ts')
    const ring = new KeyRing({ dir: resolvePaths(config(program.opts())).keyDir })
    await ring.start()
    if (action === 'rotate') {
      await ring.rotate()
      await audited('keys.rotate', ring.current().keyId)
      console.log(`new signing key ${ring.current().keyId}; earlier keys are kept for verification`)
    } else if (action !== 'list') throw new Error(`unknown action "${action}": list or rotate`)
    for (const k of ring.publicKeys())
      console.log(`${k.keyId}${k.keyId === ring.current().keyId ? '  (current)' : ''}`)
  })

program
  .command('backup <dir>')
  .description(
    'copy the registry, SMS outbox, embedded store, spool and Oksigen keys into a new directory, while the service runs',
  )
  .action(async (dir: string) => {
    const { backup } = await import('../backup/index.ts')
    const started = Date.now()
    const m = backup(config(program.opts()), dir, (line) => console.log(line))
    const bytes = m.entries.reduce((n, e) => n + e.bytes, 0)
    console.log(
      `backup in ${dir}: ${m.entries.length} files, ${(bytes / 1048576).toFixed(1)} MiB, ${Date.now() - started} ms; restore with: kampung restore ${dir}`,
    )
  })

program
  .command('restore <dir>')
  .description('check a backup and restore it into a fresh data directory (KAMPUNG_DATA_DIR / dataDir)')
  .option('--check', 'only check the backup (checksums, SQLite integrity); restore nothing')
  .action(async (dir: string, o: { check?: boolean }) => {
    const { checkBackup, restore } = await import('../backup/index.ts')
    const cfg = config(program.opts())
    if (o.check) {
      const m = checkBackup(dir)
      return console.log(`backup ${dir} of ${m.createdAt}: ${m.entries.length} files, all sound`)
    }
    const m = restore(cfg, dir, (line) => console.log(line))
    await audited('restore', cfg.dataDir, { backup: path.resolve(dir), createdAt: m.createdAt })
    console.log(`restored the backup of ${m.createdAt} into ${cfg.dataDir}; start the service on it`)
  })

const apiUrl = () => {
  const api = config(program.opts()).api
  return `http://${api.host === '0.0.0.0' ? '127.0.0.1' : api.host}:${api.port}`
}
program.addCommand(treesCommand(apiUrl))
program.addCommand(exportCommand(apiUrl))

program.parseAsync().catch((err: unknown) => {
  if (err instanceof ConfigError) console.error(err.message)
  else console.error(`error: ${(err as Error).message}`)
  process.exit(1)
})
