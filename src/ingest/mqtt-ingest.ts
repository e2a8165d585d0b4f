import mqtt, { type IClientOptions, type MqttClient } from 'mqtt'
import type { Logger } from '../log.ts'
import { getLogger } from '../log.ts'
import type { Registry } from '../registry/index.ts'
import { type Device, topics } from '../registry/index.ts'
import { holdPubacks } from './held-puback.ts'
import type { IngestPipeline, RejectionReport } from './pipeline.ts'

export interface MqttIngestOptions {
  url: string
  username?: string
  password?: string
  clientId: string
  /** Join an MQTT 5 shared subscription group so several workers split the load. */
  sharedGroup?: string
  protocolVersion: 4 | 5
  /**
   * Messages taken from the broker but not yet durable. At the limit the worker stops reading its
   * socket (TCP backpressure), so memory stays bounded even on MQTT 3.1.1, which has no flow
   * control; with MQTT 5 the broker is also told (Receive Maximum).
   */
  maxInFlightMessages: number
  /** MQTT 5 session expiry: how long the broker keeps this worker's session (and queue) while it is away. */
  sessionExpiryS?: number
  /**
   * Where this session's liveness is kept (MQTT 5, retained): `online` on connect, and as the will
   * `offline`, published by the broker only once nobody has held this client id for
   * `willDelayS` (MQTT 5 Will Delay Interval). Peers adopt the session on `offline` (PeerAdoption).
   */
  stateTopic?: string
  willDelayS?: number
  /**
   * A peer's session taken over by this process (PeerAdoption): no subscribe (the session has
   * it), no `online` publish, no reconnect; `onClosed` when the connection ends (the owner is back
   * and took the session over, or the broker went away).
   */
  adopted?: boolean
  onClosed?: (reasonCode: number | undefined) => void
  pipeline: IngestPipeline
  registry: Registry
}

/** A persistent session outlives a restart of the worker by this much (MQTT 5 session expiry). */
const SESSION_EXPIRY_S = 7 * 24 * 3600
const UP_TOPIC = /^kampung\/([^/]+)\/([^/]+)\/up$/
/** MQTT 5 DISCONNECT reason "Disconnect with Will Message": a planned stop still lets peers adopt. */
const DISCONNECT_WITH_WILL = 4

/**
 * Ingest as an ordinary MQTT client of any broker (Mosquitto, EMQX, our own): QoS 1 on a persistent
 * session, so what is published while the worker is down waits in the broker.
 *
 * Acknowledging only once durable: mqtt.js sends the PUBACK from handleMessage's callback and reads
 * no further packet until then, which would make every message wait for its own store write. So the
 * callback returns at once and the PUBACK packet itself is held back until the message's readings
 * are durable. A held PUBACK is dropped if the connection it belongs to has gone: the broker then
 * redelivers the message on the new session, and the idempotent store absorbs the duplicate.
 */
export class MqttIngest {
  private readonly opts: MqttIngestOptions
  private readonly log: Logger
  private client: MqttClient | undefined
  private generation = 0
  private readonly durable = new Map<number, Promise<void>>()
  private readonly inFlight = new Set<Promise<void>>()
  private readonly resumeWhenRoom: Array<() => void> = []
  private wasConnected = false
  private sessionWasPresent = false
  private stopping = false
  private disconnectReason: number | undefined

  constructor(opts: MqttIngestOptions) {
    this.opts = opts
    this.log = getLogger('ingest-mqtt')
  }

  async start(): Promise<void> {
    const o = this.opts
    const options: IClientOptions = {
      clientId: o.clientId,
      username: o.username,
      password: o.password,
      clean: false,
      protocolVersion: o.protocolVersion,
      reconnectPeriod: o.adopted ? 0 : 1000,
      connectTimeout: 10_000,
      properties:
        o.protocolVersion === 5
          ? {
              sessionExpiryInterval: o.sessionExpiryS ?? SESSION_EXPIRY_S,
              receiveMaximum: Math.min(65535, o.maxInFlightMessages),
            }
          : undefined,
      will:
        o.stateTopic && o.protocolVersion === 5
          ? {
              topic: o.stateTopic,
              payload: Buffer.from(JSON.stringify({ state: 'offline' })),
              qos: 1,
              retain: true,
              properties: { willDelayInterval: o.willDelayS ?? 0 },
            }
          : undefined,
    }
    const client = mqtt.connect(o.url, options)
    this.client = client
    holdPubacks(client, {
      pending: this.durable,
      generation: () => this.generation,
      onFailed: (err) => {
        // no PUBACK: reconnecting makes the broker redeliver the message
        this.log.error({ err: err.message }, 'store failed; dropping connection so the broker redelivers')
        client.stream?.destroy()
      },
    })
    client.handleMessage = (packet, callback) => {
      const work = this.process(packet.topic, packet.payload as Buffer)
      this.inFlight.add(work)
      const forget = () => {
        this.inFlight.delete(work)
        if (this.inFlight.size < this.opts.maxInFlightMessages) this.resumeWhenRoom.shift()?.()
      }
      work.then(forget, forget)
      if (packet.qos > 0 && packet.messageId !== undefined) this.durable.set(packet.messageId, work)
      else work.catch((err) => this.log.error({ err: (err as Error).message }, 'QoS 0 message not stored'))
      // mqtt.js reads no further packet until `callback`: holding it is backpressure to the broker.
      if (this.inFlight.size < this.opts.maxInFlightMessages) callback()
      else this.resumeWhenRoom.push(callback)
    }
    client.on('disconnect', (packet) => {
      this.disconnectReason = packet.reasonCode
    })
    client.on('close', () => {
      this.generation++
      if (o.adopted) {
        // Not reconnecting (the owner is back, or the broker is gone): release the client too.
        client.end(true)
        o.onClosed?.(this.disconnectReason)
        return
      }
      if (this.wasConnected && !this.stopping)
        this.log.warn({ url: o.url }, 'broker connection lost; reconnecting')
      this.wasConnected = false
    })
    client.on('error', (err) => this.log.warn({ err: err.message }, 'mqtt client error'))
    await new Promise<void>((resolve, reject) => {
      const onConnect = (connack: { sessionPresent: boolean }) => {
        client.off('error', onError)
        this.sessionWasPresent = connack.sessionPresent
        resolve()
      }
      const onError = (err: Error) => {
        if ((err as { code?: number }).code) {
          client.off('connect', onConnect)
          client.end(true)
          reject(new Error(`ingest could not connect to ${o.url}: ${err.message}`))
        }
      }
      client.once('connect', onConnect)
      client.on('error', onError)
    })
    client.on('connect', (connack) => {
      if (!this.wasConnected)
        this.log.info({ url: o.url, sessionPresent: connack.sessionPresent }, 'broker connection back')
      this.wasConnected = true
      if (!connack.sessionPresent) this.subscribe(client)
      this.announce(client)
    })
    this.wasConnected = true
    if (o.adopted) {
      this.log.info({ clientId: o.clientId, sessionPresent: this.sessionWasPresent }, 'peer session adopted')
      return
    }
    await this.subscribe(client)
    this.announce(client)
    this.log.info({ url: o.url, clientId: o.clientId }, 'ingest subscribed')
  }

  /** Whether the broker still had this client id's session (for an adopted peer: anything to drain). */
  get sessionPresent(): boolean {
    return this.sessionWasPresent
  }

  private announce(client: MqttClient): void {
    const topic = this.opts.stateTopic
    if (!topic || this.opts.adopted) return
    client.publish(topic, JSON.stringify({ state: 'online', atMs: Date.now() }), { qos: 1, retain: true })
  }

  private subscribe(client: MqttClient): Promise<void> {
    const topic = this.opts.sharedGroup ? `$share/${this.opts.sharedGroup}/${topics.allUp}` : topics.allUp
    return new Promise((resolve, reject) => {
      client.subscribe(topic, { qos: 1 }, (err, granted) => {
        if (err) return reject(err)
        if (granted?.some((g) => g.qos > 2))
          return reject(new Error(`broker refused subscription to ${topic}`))
        resolve()
      })
    })
  }

  private async process(topic: string, payload: Buffer): Promise<void> {
    const m = UP_TOPIC.exec(topic)
    const { pipeline, registry } = this.opts
    const device = m ? registry.getDevice(m[2]!) : undefined
    if (!m || !device || device.village !== m[1]) {
      pipeline.account(
        undefined,
        [],
        [{ path: topic, reason: 'unknown_device', message: `no registered device for topic ${topic}` }],
        topic,
        'mqtt',
        Date.now(),
      )
      return
    }
    await pipeline.handle(device, payload, topic, 'mqtt')
  }

  /**
   * Ends this client id's session on the broker (MQTT 5 DISCONNECT with session expiry 0, no
   * will): for an adopted peer whose session had already expired, so nothing lingers.
   */
  async endSession(): Promise<void> {
    const client = this.client
    if (!client) return
    this.client = undefined
    await client.endAsync(false, { reasonCode: 0, properties: { sessionExpiryInterval: 0 } })
  }

  /** Messages taken from the broker and not yet durable. */
  get inFlightMessages(): number {
    return this.inFlight.size
  }

  /** Publish a rejection report to the device's errors topic. */
  report(device: Device, report: RejectionReport): void {
    if (device.kind === 'service' || !this.client) return
    this.client.publish(topics.errors(device.village, device.id), JSON.stringify(report), { qos: 1 })
  }

  async stop(): Promise<void> {
    const client = this.client
    if (!client) return
    this.stopping = true
    // Stop taking messages, let accepted ones become durable and their PUBACKs go out, then close.
    await Promise.allSettled([...this.inFlight])
    // An adopted peer session shares the worker's pipeline: the worker stops that.
    if (!this.opts.adopted) await this.opts.pipeline.stop()
    await new Promise((r) => setImmediate(r))
    // With a state topic, a planned stop publishes the will too (after its delay): peers adopt the
    // session, which on Mosquitto keeps receiving its share of the messages while we are away.
    if (this.opts.stateTopic && this.opts.protocolVersion === 5)
      await client.endAsync(false, { reasonCode: DISCONNECT_WITH_WILL })
    else await client.endAsync()
    this.client = undefined
  }
}
