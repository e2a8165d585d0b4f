import type { Config } from '../config.ts'
import type { Registry } from '../registry/index.ts'
import { AlertEngine } from './engine.ts'
import { InfluxEventSink } from './influx-events.ts'
import type { OutboxPort } from './notify-port.ts'
import type { CommandPort } from './valves.ts'

/**
 * The engine as the service runs it: events go to InfluxDB when the store is InfluxDB (same
 * database and credentials, RP `events`), else they stay in SQLite. Wiring in KampungApp:
 *   const alerts = alertEngineFromConfig(config, this.registry, outbox)
 *   await this.startPart(alerts)
 *   this.pipeline.onStored((readings) => alerts.enqueueReadings(readings))
 */
export function alertEngineFromConfig(
  config: Config,
  registry: Registry,
  outbox: OutboxPort,
  /** Farmers' valve SMS send commands through this (the app's CommandService, once started). */
  commands?: () => CommandPort | undefined,
): AlertEngine {
  const influx = config.store.influx
  return new AlertEngine({
    registry,
    outbox,
    config: config.alerts,
    ...(commands ? { commands } : {}),
    ...(config.store.kind === 'influx'
      ? {
          events: new InfluxEventSink({
            url: influx.url,
            database: influx.database,
            ...(influx.username !== undefined ? { username: influx.username } : {}),
            ...(influx.password !== undefined ? { password: influx.password } : {}),
            ...(influx.token !== undefined ? { token: influx.token } : {}),
            requestTimeoutMs: influx.requestTimeoutMs,
            manageSchema: influx.manageSchema,
          }),
        }
      : {}),
  })
}
