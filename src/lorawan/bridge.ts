import type Database from 'better-sqlite3'
import { Counter } from 'prom-client'
import { type CommandService, parseCommandMessage } from '../commands/index.ts'
import { KampungError } from '../errors.ts'
import { type IngestOutcome, type IngestPipeline, MqttConsumer } from '../ingest/index.ts'
import { getLogger } from '../log.ts'
import type { Metrics } from '../metrics.ts'
import type { Device, Registry } from '../registry/index.ts'
import { lorawanDeviceId, type RejectReason } from '../telemetry/index.ts'
import type { LorawanConfig, ServerConfig } from './config.ts'
import { encodeCommand } from './downlink.ts'
import {
  CORRELATION_PREFIX,
  type Interpretation,
  NETWORK_SERVERS,
  type NetworkServer,
  queueItemId,
} from './servers/index.ts'
import type { ServerTopic } from './servers/types.ts'

export interface LorawanBridgeOptions {
  config: LorawanConfig
  registry: Registry
  pipeline: IngestPipeline
  metrics: Metrics
  /** Commands in this process: their downlinks' acknowledgements go there. */
  commands?: CommandService
}

interface Link {
  server: ServerConfig
  plugin: NetworkServer
  consumer: MqttConsumer
}

interface Address {
  server: string
  app: string
  dev: string
}

/** Distinct problems logged at most this many times before the log set starts over. */
const MAX_LOGGED_PROBLEMS = 1000
/** Commands of a device searched for a ChirpStack queue item id (newest first). */
const COMMANDS_SEARCHED = 100

/**
 * The MQTT integrations of LoRaWAN network servers (ChirpStack v4, The Things Stack v3): one
 * persistent MQTT session per configured server through the system's one consumer (MqttConsumer,
 * PUBACK held until the work is done). Uplinks of registered devices go through the ingest pipeline
 * with the server's decoder and are acknowledged once durable, like every other transport; joins
 * and status reports teach the bridge where a device is; acknowledgements of downlinks answer
 * commands. Commands to a device registered with format `chirpstack` or `tts` go out as that
 * server's downlink (publishDown). A message that is not JSON, of no registered device or of no
 * known shape is counted (`kampung_lorawan_messages_total`), logged once, and acknowledged.
 */
export class LorawanBridge {
  private readonly opts: LorawanBridgeOptions
  private readonly log = getLogger('lorawan')
  private readonly links = new Map<string, Link>()
  private db: Database.Database | undefined
  private counter: Counter<'server' | 'event' | 'outcome'> | undefined
  private readonly tally = new Map<string, number>()
  /** device id → where it was last heard, as stored: an uplink writes SQLite only when it moved. */
  private readonly known = new Map<string, Address>()
  private readonly logged = new Set<string>()

  constructor(opts: LorawanBridgeOptions) {
    this.opts = opts
  }

  async start(): Promise<void> {
    if (this.db) return
    this.db = this.opts.registry.database()
    this.counter ??= new Counter({
      name: 'kampung_lorawan_messages_total',
      help: 'Messages from and to LoRaWAN network servers, by server, event and outcome',
      labelNames: ['server', 'event', 'outcome'] as const,
      registers: [this.opts.metrics.registry],
    })
    const rows = this.db.prepare('SELECT device, server, app, dev FROM lorawan_devices').all() as Array<
      Address & { device: string }
    >
    for (const r of rows) this.known.set(r.device, { server: r.server, app: r.app, dev: r.dev })
    for (const server of this.opts.config.servers) {
      const plugin = NETWORK_SERVERS[server.kind]
      const link: Link = {
        server,
        plugin,
        consumer: new MqttConsumer({
          url: server.url,
          username: server.username,
          password: server.password,
          clientId: server.clientId,
          protocolVersion: server.protocolVersion,
          maxInFlightMessages: server.maxInFlightMessages,
          sessionExpiryS: server.sessionExpiryS,
          name: `lorawan ${server.name}`,
          logName: `lorawan.${server.name}`,
          logFields: { server: server.name, kind: server.kind },
          topicFilters: plugin.topicFilters,
          onMessage: (topic, payload) => this.onMessage(link, topic, payload),
        }),
      }
      this.links.set(server.name, link)
      await link.consumer.start()
    }
    // Devices heard before a restart can be sent to now: the network server queues their downlinks.
    for (const r of rows) if (this.links.has(r.server)) this.reachable(r.device)
  }

  async stop(): Promise<void> {
    for (const link of this.links.values()) await link.consumer.stop()
    this.links.clear()
    this.known.clear()
    this.db = undefined
  }

  /** Whether commands to `device` go out through a network server of this bridge. */
  reaches(device: Device): boolean {
    for (const link of this.links.values()) if (link.plugin.format === device.format) return true
    return false
  }

  /**
   * A command (the `down` topic's JSON, src/commands) as a downlink to the server that last heard
   * the device; resolves once that server's broker has it (PUBACK).
   */
  async publishDown(device: Device, payload: string): Promise<void> {
    const parsed = parseCommandMessage(payload)
    if (!parsed.ok)
      throw new KampungError('invalid_command', `not a command message: ${parsed.error}`, {
        retryable: false,
      })
    const address = this.address(device.id)
    const link = address && this.links.get(address.server)
    if (!address || !link)
      throw new KampungError('lorawan_unreached', `no uplink or join of ${device.id} heard yet`, {
        retryable: true,
      })
    const { downlink } = this.opts.config
    const encoding = downlink.devices[device.id] ?? downlink.encoding
    const frame = {
      commandId: parsed.command.id,
      fPort: downlink.fPort,
      confirmed: downlink.confirmed,
      ...encodeCommand(parsed.command, encoding),
    }
    const message = link.plugin.downlink(address, frame)
    await link.consumer.publishAcked(message.topic, message.payload)
    this.count(link, 'down', 'published')
    this.log.info(
      { server: link.server.name, device: device.id, id: frame.commandId, topic: message.topic },
      'downlink queued',
    )
  }

  /** Counts by `<server> <event> <outcome>` since start (tests, diagnostics). */
  stats(): Record<string, number> {
    return Object.fromEntries(this.tally)
  }

  private async onMessage(link: Link, topic: string, payload: Buffer): Promise<void> {
    const receivedAtMs = Date.now()
    const at = link.plugin.parseTopic(topic)
    if (!at)
      return this.refuse(link, '?', 'unknown_topic', topic, `not a ${link.server.kind} integration topic`)
    let body: unknown
    try {
      body = JSON.parse(payload.toString('utf8'))
    } catch (err) {
      return this.refuse(
        link,
        at.event,
        'malformed',
        topic,
        `payload is not valid JSON (${(err as Error).message})`,
      )
    }
    const meaning = link.plugin.interpret(at.event, body)
    if (meaning.type === 'ignored') return this.count(link, at.event, 'ignored')
    if (meaning.type === 'malformed') return this.refuse(link, at.event, 'malformed', topic, meaning.message)
    const device = this.device(link, at, body)
    if (!device) {
      const named = lorawanDeviceId(link.plugin.format, body)
      return this.refuse(
        link,
        at.event,
        'unknown_device',
        topic,
        `no registered device ${named ?? at.dev} (${link.server.kind} device ${at.dev})`,
      )
    }
    this.learn(link, device, at, receivedAtMs)
    if (meaning.type === 'seen') return this.count(link, at.event, 'seen')
    if (meaning.type === 'answer') return this.answer(link, at.event, device, meaning)
    // The one promise at this edge: the consumer holds the PUBACK until the readings are durable.
    const outcome = await new Promise<IngestOutcome>((resolve, reject) =>
      this.opts.pipeline.handle(
        { ...device, format: link.plugin.format },
        payload,
        topic,
        'lorawan',
        receivedAtMs,
        (err, outcome) => (outcome ? resolve(outcome) : reject(err ?? new Error('not stored'))),
      ),
    )
    if (outcome.accepted === 0 && outcome.rejected.length === 0) {
      // As the HTTP integration's `empty_uplink`: an uplink with neither codec output nor frame
      // payload is a codec or integration problem, not a quiet device.
      this.refuse(
        link,
        at.event,
        'empty_uplink',
        topic,
        `an uplink of ${device.id} with neither decoded payload nor frame payload`,
      )
      return
    }
    this.count(
      link,
      at.event,
      outcome.rejected.length === 0 ? 'stored' : outcome.accepted > 0 ? 'partial' : 'rejected',
    )
  }

  /** The registered device: the one the body names (as the HTTP integration maps it), else the topic's. */
  private device(link: Link, at: ServerTopic, body: unknown): Device | undefined {
    const named = lorawanDeviceId(link.plugin.format, body)
    const registry = this.opts.registry
    return (
      (named !== undefined ? registry.getDevice(named) : undefined) ??
      registry.getDevice(at.dev.toLowerCase())
    )
  }

  private address(deviceId: string): Address | undefined {
    return this.known.get(deviceId)
  }

  /** Where the device was heard; stored when it moved, and the device becomes reachable for commands. */
  private learn(link: Link, device: Device, at: ServerTopic, nowMs: number): void {
    const was = this.known.get(device.id)
    if (was?.server === link.server.name && was.app === at.app && was.dev === at.dev) return
    this.db
      ?.prepare(
        `INSERT INTO lorawan_devices (device, server, app, dev, seen_at_ms) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT(device) DO UPDATE SET server = excluded.server, app = excluded.app, dev = excluded.dev,
         seen_at_ms = excluded.seen_at_ms`,
      )
      .run(device.id, link.server.name, at.app, at.dev, nowMs)
    const first = was === undefined
    this.known.set(device.id, { server: link.server.name, app: at.app, dev: at.dev })
    this.log.info(
      { server: link.server.name, device: device.id, app: at.app, dev: at.dev, first },
      'device heard',
    )
    this.reachable(device.id)
  }

  private reachable(deviceId: string): void {
    const device = this.opts.registry.getDevice(deviceId)
    if (!device) return
    this.opts.commands?.onStatus({
      village: device.village,
      device: device.id,
      state: 'online',
      atMs: Date.now(),
    })
  }

  /** A network server's word on one of our downlinks, to the command it carried. */
  private answer(
    link: Link,
    event: string,
    device: Device,
    a: Extract<Interpretation, { type: 'answer' }>,
  ): void {
    const commands = this.opts.commands
    if (!commands) {
      // `kampung ingest` without the API: the commands service runs elsewhere and never hears this.
      this.count(link, event, 'no_commands_here')
      return
    }
    const ours = a.correlationIds?.find((id) => id.startsWith(CORRELATION_PREFIX))
    const id =
      ours?.slice(CORRELATION_PREFIX.length) ??
      (a.queueItemId !== undefined
        ? commands.list(device.id, COMMANDS_SEARCHED).find((c) => queueItemId(c.id) === a.queueItemId)?.id
        : undefined)
    if (id === undefined) {
      this.count(link, event, 'not_ours')
      return
    }
    if (a.outcome === 'transmitted' && this.opts.config.downlink.confirmed) {
      // A confirmed downlink is decided by the device's acknowledgement, not by the gateway sending it.
      this.count(link, event, 'transmitted')
      return
    }
    const ok = a.outcome !== 'failed'
    commands.answer(device.id, { id, ok, ...(a.error ? { error: a.error } : {}) })
    this.count(link, event, ok ? 'acknowledged' : 'failed')
  }

  /** Counted, logged once per server, reason and device, acknowledged: never holds back the others. */
  private refuse(
    link: Link,
    event: string,
    reason: RejectReason | 'unknown_topic' | 'empty_uplink',
    topic: string,
    message: string,
  ): void {
    this.count(link, event, reason)
    if (event === 'up' && reason !== 'unknown_topic' && reason !== 'empty_uplink')
      this.opts.pipeline.account(
        undefined,
        [],
        [{ path: topic, reason, message }],
        topic,
        'lorawan',
        Date.now(),
      )
    const key = `${link.server.name} ${reason} ${topic}`
    if (this.logged.has(key)) return
    if (this.logged.size >= MAX_LOGGED_PROBLEMS) this.logged.clear()
    this.logged.add(key)
    this.log.warn({ server: link.server.name, topic, reason }, message)
  }

  private count(link: Link, event: string, outcome: string): void {
    this.counter?.inc({ server: link.server.name, event, outcome })
    const key = `${link.server.name} ${event} ${outcome}`
    this.tally.set(key, (this.tally.get(key) ?? 0) + 1)
  }
}
