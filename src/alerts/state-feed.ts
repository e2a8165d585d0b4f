import mqtt, { type IClientOptions, type MqttClient } from 'mqtt'
import { Counter } from 'prom-client'
import { holdPubacks } from '../ingest/index.ts'
import { getLogger } from '../log.ts'
import type { Metrics } from '../metrics.ts'
import type { Registry } from '../registry/index.ts'
import type { Reading } from '../telemetry/index.ts'
import { decode } from '../telemetry/index.ts'
import { describePartition, ownership, type PartitionConfig } from './partition.ts'
import { type DeviceStatus, parseStatusMessage } from './status.ts'

export interface StateFeedOptions {
  url: string
  username?: string
  password?: string
  clientId: string
  protocolVersion: 4 | 5
  /** MQTT 5 session expiry: how long the broker queues for this worker while it is down. */
  sessionExpiryS: number
  /** Messages taken but not yet evaluated; beyond this the feed stops reading its socket. */
  maxInFlightMessages: number
  partition: PartitionConfig
  registry: Registry
  metrics?: Metrics
  /**
   * A batch of decoded readings of owned villages. Synchronous: when it returns, what it decided
   * is committed (the engine's SQLite transaction), and only then are the messages acknowledged.
   */
  onReadings: (readings: readonly Reading[]) => void
  onStatus: (status: DeviceStatus) => void
}

/** Readings are evaluated in windows this long (as the ingest batcher): one transaction per window. */
const BATCH_WINDOW_MS = 25
const BATCH_MAX_READINGS = 5000
const UP_TOPIC = /^kampung\/([^/]+)\/([^/]+)\/up$/

/**
 * The state role's input (`kampung state`): ALL readings of the villages this worker owns, on its
 * own non-shared, persistent QoS 1 subscription, decoded with the ingest decoders and evaluated,
 * never stored (the ingest workers store). With an explicit village list it subscribes to those
 * villages' topics only; with a hash partition to `kampung/+/+/up` and drops what it does not own.
 * Retained device statuses (`kampung/+/+/status`) feed gateway-offline inhibition.
 *
 * A message is acknowledged only once its readings are evaluated and committed, so a worker killed
 * mid-batch gets the rest again from its persistent session when it is back. As in MqttIngest, the
 * PUBACK packet itself is held (mqtt.js would otherwise read no further packet until each message
 * is done); a held PUBACK of a connection that has gone is dropped and the broker redelivers.
 */
export class StateFeed {
  private readonly opts: StateFeedOptions
  private readonly log = getLogger('alerts-feed')
  private client: MqttClient | undefined
  private owns: (village: string) => boolean = () => false
  private generation = 0
  private wasConnected = false
  private buffered: Reading[] = []
  private waiting: Array<{ resolve: () => void; reject: (err: Error) => void }> = []
  private timer: NodeJS.Timeout | undefined
  private readonly evaluated = new Map<number, Promise<void>>()
  private readonly inFlight = new Set<Promise<void>>()
  private readonly resumeWhenRoom: Array<() => void> = []
  private counter: Counter<'outcome'> | undefined

  constructor(opts: StateFeedOptions) {
    this.opts = opts
  }

  /** The topic filters this worker subscribes to. */
  topics(): string[] {
    const villages = this.opts.partition.villages
    if (!villages) return ['kampung/+/+/up', 'kampung/+/+/status']
    return villages.flatMap((v) => [`kampung/${v}/+/up`, `kampung/${v}/+/status`])
  }

  async start(): Promise<void> {
    const o = this.opts
    this.owns = ownership(o.partition)
    if (o.metrics)
      this.counter = new Counter({
        name: 'kampung_state_messages_total',
        help: 'Messages the state worker took: evaluated, not_owned (another worker owns the village), unknown_device, status',
        labelNames: ['outcome'] as const,
        registers: [o.metrics.registry],
      })
    const options: IClientOptions = {
      clientId: o.clientId,
      username: o.username,
      password: o.password,
      clean: false,
      protocolVersion: o.protocolVersion,
      reconnectPeriod: 1000,
      connectTimeout: 10_000,
      properties:
        o.protocolVersion === 5
          ? {
              sessionExpiryInterval: o.sessionExpiryS,
              receiveMaximum: Math.min(65535, o.maxInFlightMessages),
            }
          : undefined,
    }
    const client = mqtt.connect(o.url, options)
    this.client = client
    holdPubacks(client, {
      pending: this.evaluated,
      generation: () => this.generation,
      onFailed: (err) => {
        // no PUBACK: reconnecting makes the broker redeliver the message
        this.log.error(
          { err: err.message },
          'evaluation failed; dropping connection so the broker redelivers',
        )
        client.stream?.destroy()
      },
    })
    client.handleMessage = (packet, callback) => {
      const work = this.process(packet.topic, packet.payload as Buffer)
      this.inFlight.add(work)
      const forget = () => {
        this.inFlight.delete(work)
        if (this.inFlight.size < o.maxInFlightMessages) this.resumeWhenRoom.shift()?.()
      }
      work.then(forget, forget)
      if (packet.qos > 0 && packet.messageId !== undefined) this.evaluated.set(packet.messageId, work)
      else work.catch(() => undefined)
      if (this.inFlight.size < o.maxInFlightMessages) callback()
      else this.resumeWhenRoom.push(callback)
    }
    client.on('close', () => {
      this.generation++
      if (this.wasConnected) this.log.warn({ url: o.url }, 'broker connection lost; reconnecting')
      this.wasConnected = false
    })
    client.on('error', (err) => this.log.warn({ err: err.message }, 'mqtt client error'))
    const connack = await new Promise<{ sessionPresent: boolean }>((resolve, reject) => {
      const onConnect = (ack: { sessionPresent: boolean }) => {
        client.off('error', onError)
        resolve(ack)
      }
      const onError = (err: Error) => {
        if ((err as { code?: number }).code) {
          client.off('connect', onConnect)
          client.end(true)
          reject(new Error(`state worker could not connect to ${o.url}: ${err.message}`))
        }
      }
      client.once('connect', onConnect)
      client.on('error', onError)
    })
    client.on('connect', (ack) => {
      if (!this.wasConnected)
        this.log.info({ url: o.url, sessionPresent: ack.sessionPresent }, 'broker connection back')
      this.wasConnected = true
      if (!ack.sessionPresent)
        void this.subscribe(client).catch((err) => this.log.error({ err }, 'subscribe'))
    })
    this.wasConnected = true
    // Subscribing again on a present session is harmless and covers a changed village list.
    await this.subscribe(client)
    this.log.info(
      {
        url: o.url,
        clientId: o.clientId,
        owns: describePartition(o.partition),
        sessionPresent: connack.sessionPresent,
      },
      `state worker subscribed; owns ${describePartition(o.partition)}`,
    )
  }

  /** Log which of the registry's villages this worker owns (operators check the split with it). */
  ownedVillages(): string[] {
    return this.opts.registry
      .listVillages()
      .map((v) => v.id)
      .filter((v) => this.owns(v))
  }

  private subscribe(client: MqttClient): Promise<void> {
    const filters = this.topics()
    return new Promise((resolve, reject) => {
      client.subscribe(filters, { qos: 1 }, (err, granted) => {
        if (err) return reject(err)
        if (granted?.some((g) => g.qos > 2))
          return reject(new Error(`broker refused subscription to ${filters.join(', ')}`))
        resolve()
      })
    })
  }

  private process(topic: string, payload: Buffer): Promise<void> {
    const status = parseStatusMessage(topic, payload)
    if (status) {
      if (this.owns(status.village)) {
        this.opts.onStatus(status)
        this.counter?.inc({ outcome: 'status' })
      }
      return Promise.resolve()
    }
    const m = UP_TOPIC.exec(topic)
    if (!m) return Promise.resolve()
    const village = m[1]!
    if (!this.owns(village)) {
      this.counter?.inc({ outcome: 'not_owned' })
      return Promise.resolve()
    }
    const device = this.opts.registry.getDevice(m[2]!)
    // Ingest counts and reports bad input to the device; here it is only skipped.
    if (!device || device.village !== village) {
      this.counter?.inc({ outcome: 'unknown_device' })
      return Promise.resolve()
    }
    const { readings } = decode(device.format, payload, {
      village: device.village,
      device: device.id,
      receivedAtMs: Date.now(),
      channels: device.channels,
    })
    this.counter?.inc({ outcome: 'evaluated' })
    if (readings.length === 0) return Promise.resolve()
    this.buffered.push(...readings)
    const done = new Promise<void>((resolve, reject) => this.waiting.push({ resolve, reject }))
    if (this.buffered.length >= BATCH_MAX_READINGS) this.evaluate()
    else this.timer ??= setTimeout(() => this.evaluate(), BATCH_WINDOW_MS)
    return done
  }

  private evaluate(): void {
    clearTimeout(this.timer)
    this.timer = undefined
    const batch = this.buffered
    const waiting = this.waiting
    this.buffered = []
    this.waiting = []
    if (batch.length === 0) return
    try {
      this.opts.onReadings(batch)
      for (const w of waiting) w.resolve()
    } catch (err) {
      for (const w of waiting) w.reject(err as Error)
    }
  }

  async stop(): Promise<void> {
    const client = this.client
    if (!client) return
    this.evaluate()
    await Promise.allSettled([...this.inFlight])
    await new Promise((r) => setImmediate(r))
    this.wasConnected = false // a planned close is not a lost connection
    await client.endAsync()
    this.client = undefined
  }
}
