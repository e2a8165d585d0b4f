#!/usr/bin/env node
import { Command } from 'commander'
import { KampungApp, type Roles } from '../app.ts'
import { type Config, ConfigError, loadConfig, resolvePaths } from '../config.ts'
import { getLogger } from '../log.ts'
import { Registry } from '../registry/index.ts'
import { devicesCommand, villagesCommand } from './devices.ts'

const log = getLogger('cli')

function config(opts: { config?: string }): Config {
  return loadConfig({ file: opts.config })
}

/** Run the given roles until SIGINT/SIGTERM, then drain and stop. */
async function run(opts: { config?: string }, roles: (c: Config) => Roles): Promise<void> {
  const cfg = config(opts)
  const app = new KampungApp(cfg, roles(cfg))
  let stopping = false
  const shutdown = async (signal: string) => {
    if (stopping) return
    stopping = true
    log.info({ signal }, 'stopping: draining buffers')
    await app.stop()
    log.info('stopped')
    process.exit(0)
  }
  process.on('SIGINT', () => void shutdown('SIGINT'))
  process.on('SIGTERM', () => void shutdown('SIGTERM'))
  try {
    await app.start()
  } catch (err) {
    await app.stop()
    throw err
  }
  const parts: string[] = []
  if (app.broker) parts.push(`MQTT broker on ${cfg.broker.host}:${app.broker.port}`)
  if (app.mqttIngest) parts.push(`ingest from ${cfg.ingest.mqtt.url}`)
  if (app.api)
    parts.push(`API on http://${cfg.api.host === '0.0.0.0' ? 'localhost' : cfg.api.host}:${app.api.port}`)
  const store =
    cfg.store.kind === 'influx' ? `InfluxDB ${cfg.store.influx.url}` : `SQLite ${resolvePaths(cfg).sqlite}`
  console.log(`smart-kampung running: ${parts.join(', ')}; store: ${store}. Ctrl-C stops.`)
}

const program = new Command()
program.name('kampung').description('Smart Kampung: village sensor telemetry, alerts and tree verification')
const withConfig = (c: Command) =>
  c.option('-c, --config <file>', 'config file (YAML or JSON); env KAMPUNG_CONFIG')

withConfig(program.command('up'))
  .description('run everything in one process: broker, ingest, store, API')
  .action((o) => run(o, (c) => ({ broker: c.broker.enabled, ingest: true, api: c.api.enabled })))

withConfig(program.command('broker'))
  .description('run only the MQTT broker (ingest runs elsewhere as an MQTT client)')
  .action((o) => run(o, () => ({ broker: true, ingest: false, api: false })))

withConfig(program.command('ingest'))
  .description('run only an ingest worker: an MQTT client of the broker in ingest.mqtt.url')
  .option('--api', 'also serve the HTTP API (telemetry POST, /metrics)')
  .action((o) => run(o, () => ({ broker: false, ingest: true, api: Boolean(o.api) })))

withConfig(program.command('config'))
  .description('check the configuration and print it with every default filled in')
  .action((o) => {
    console.log(JSON.stringify(config(o), null, 2))
  })

async function openRegistry(): Promise<Registry> {
  const opts = program.opts<{ config?: string }>()
  const registry = new Registry({ path: resolvePaths(config(opts)).registry })
  const { mkdirSync } = await import('node:fs')
  mkdirSync(config(opts).dataDir, { recursive: true })
  await registry.start()
  return registry
}

program.option('-c, --config <file>', 'config file (YAML or JSON); env KAMPUNG_CONFIG')
program.addCommand(devicesCommand(openRegistry))
program.addCommand(villagesCommand(openRegistry))

program.parseAsync().catch((err: unknown) => {
  if (err instanceof ConfigError) console.error(err.message)
  else console.error(`error: ${(err as Error).message}`)
  process.exit(1)
})
