import mqtt, { type IClientOptions, type MqttClient } from 'mqtt'
import { KampungError } from '../errors.ts'
import type { Logger } from '../log.ts'
import { getLogger } from '../log.ts'
import { holdPubacks } from './held-puback.ts'

/** Where and as whom to connect: the `ingest.mqtt` config section, shared by both roles. */
export interface MqttConnection {
  url: string
  username?: string
  password?: string
  clientId: string
  protocolVersion: 4 | 5
  /**
   * Messages taken from the broker but not yet done. At the limit the consumer stops reading its
   * socket (TCP backpressure), so memory stays bounded even on MQTT 3.1.1, which has no flow
   * control; with MQTT 5 the broker is also told (Receive Maximum).
   */
  maxInFlightMessages: number
  /** MQTT 5 session expiry: how long the broker keeps this session (and its queue) while we are away. */
  sessionExpiryS?: number
}

/**
 * What to do with one message. The promise settles once the message's work is done (durable in the
 * store, or evaluated and committed): its PUBACK waits for it. A rejection sends no PUBACK and
 * drops the connection, so the broker redelivers the message.
 */
export type MessageHandler = (topic: string, payload: Buffer) => Promise<void>

export interface MqttConsumerOptions extends MqttConnection {
  /** What the log lines call this consumer ('ingest', 'state worker') and its logger namespace. */
  name: string
  logName: string
  /** Extra fields of the "subscribed" log line (e.g. the villages a state worker owns). */
  logFields?: Record<string, unknown>
  /** The session's subscriptions (QoS 1), e.g. `topics.filter('up')`. */
  topicFilters: readonly string[]
  /** Join an MQTT 5 shared subscription group (`$share/<group>/…`) so several workers split the load. */
  sharedGroup?: string
  onMessage: MessageHandler
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
}

/** A persistent session outlives a restart of the worker by this much (MQTT 5 session expiry). */
const SESSION_EXPIRY_S = 7 * 24 * 3600
/** MQTT 5 DISCONNECT reason "Disconnect with Will Message": a planned stop still lets peers adopt. */
const DISCONNECT_WITH_WILL = 4
const RECONNECT_PERIOD_MS = 1000
const CONNECT_TIMEOUT_MS = 10_000
/** MQTT 5 Receive Maximum is a two-byte integer. */
const MAX_RECEIVE_MAXIMUM = 65_535

/**
 * The one MQTT consumer of the system, for every role that takes messages from a broker
 * (Mosquitto, EMQX, our own): `kampung ingest` stores uplinks through it, `kampung state` evaluates
 * its villages' uplinks and statuses through it, and the command sender (src/commands/mqtt-link.ts)
 * takes devices' statuses and acks and publishes their commands through it. QoS 1 on a persistent session (clean=false), so
 * what is published while the worker is down waits in the broker; reconnects by itself, and
 * subscribes again when the broker lost the session.
 *
 * Acknowledging only once done: mqtt.js sends the PUBACK from handleMessage's callback and reads
 * no further packet until then, which would make every message wait for its own work. So the
 * callback returns at once and the PUBACK packet itself is held back until the handler's promise
 * resolves (held-puback.ts). A held PUBACK is dropped if the connection it belongs to has gone: the
 * broker then redelivers the message on the new session, and the idempotent work absorbs the
 * duplicate. At most `maxInFlightMessages` messages are taken and not yet done.
 */
export class MqttConsumer {
  private readonly opts: MqttConsumerOptions
  private readonly log: Logger
  private client: MqttClient | undefined
  private generation = 0
  private readonly pending = new Map<number, Promise<void>>()
  private readonly inFlight = new Set<Promise<void>>()
  private readonly resumeWhenRoom: Array<() => void> = []
  private wasConnected = false
  private sessionWasPresent = false
  private stopping = false
  private disconnectReason: number | undefined

  constructor(opts: MqttConsumerOptions) {
    this.opts = opts
    this.log = getLogger(opts.logName)
  }

  async start(): Promise<void> {
    const o = this.opts
    this.stopping = false
    const options: IClientOptions = {
      clientId: o.clientId,
      username: o.username,
      password: o.password,
      clean: false,
      protocolVersion: o.protocolVersion,
      reconnectPeriod: o.adopted ? 0 : RECONNECT_PERIOD_MS,
      connectTimeout: CONNECT_TIMEOUT_MS,
      properties:
        o.protocolVersion === 5
          ? {
              sessionExpiryInterval: o.sessionExpiryS ?? SESSION_EXPIRY_S,
              receiveMaximum: Math.min(MAX_RECEIVE_MAXIMUM, o.maxInFlightMessages),
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
      pending: this.pending,
      generation: () => this.generation,
      onFailed: (err) => {
        // no PUBACK: reconnecting makes the broker redeliver the message
        this.log.error(
          { err: err.message },
          `${o.name}: message failed; dropping connection so the broker redelivers`,
        )
        client.stream?.destroy()
      },
    })
    client.handleMessage = (packet, callback) => {
      const work = o.onMessage(packet.topic, packet.payload as Buffer)
      this.inFlight.add(work)
      const forget = () => {
        this.inFlight.delete(work)
        if (this.inFlight.size < o.maxInFlightMessages) this.resumeWhenRoom.shift()?.()
      }
      work.then(forget, forget)
      if (packet.qos > 0 && packet.messageId !== undefined) this.pending.set(packet.messageId, work)
      else work.catch((err) => this.log.error({ err: (err as Error).message }, 'QoS 0 message failed'))
      // mqtt.js reads no further packet until `callback`: holding it is backpressure to the broker.
      if (this.inFlight.size < o.maxInFlightMessages) callback()
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
          reject(new Error(`${o.name} could not connect to ${o.url}: ${err.message}`))
        }
      }
      client.once('connect', onConnect)
      client.on('error', onError)
    })
    client.on('connect', (connack) => {
      if (!this.wasConnected)
        this.log.info({ url: o.url, sessionPresent: connack.sessionPresent }, 'broker connection back')
      this.wasConnected = true
      if (!connack.sessionPresent)
        this.subscribe(client).catch((err) =>
          this.log.error({ err: (err as Error).message }, 'subscribe failed'),
        )
      this.announce(client)
    })
    this.wasConnected = true
    if (o.adopted) {
      this.log.info({ clientId: o.clientId, sessionPresent: this.sessionWasPresent }, 'peer session adopted')
      return
    }
    // Subscribing again on a present session is harmless and covers changed filters.
    await this.subscribe(client)
    this.announce(client)
    this.log.info(
      { url: o.url, clientId: o.clientId, sessionPresent: this.sessionWasPresent, ...o.logFields },
      `${o.name} subscribed`,
    )
  }

  /** Whether the broker still had this client id's session (for an adopted peer: anything to drain). */
  get sessionPresent(): boolean {
    return this.sessionWasPresent
  }

  /** Messages taken from the broker and not yet done. */
  get inFlightMessages(): number {
    return this.inFlight.size
  }

  /**
   * Publish on this consumer's connection (QoS 1): a rejection report to a device's errors topic,
   * a command to a device's down topic. Resolves on the broker's PUBACK. While the connection is
   * down mqtt.js holds the message and sends it once reconnected; stopping rejects it.
   */
  publish(topic: string, payload: string): Promise<void> {
    const client = this.client
    if (!client) return Promise.reject(new Error(`${this.opts.name}: not started`))
    return new Promise((resolve, reject) => {
      client.publish(topic, payload, { qos: 1 }, (err) => (err ? reject(err) : resolve()))
    })
  }

  /**
   * Publish at QoS 1 and resolve once the broker has it (its PUBACK): for messages whose sender
   * records that they went out, e.g. a command as a network server's downlink (src/lorawan).
   * While the connection is down mqtt.js keeps the message and sends it on reconnect.
   */
  publishAcked(topic: string, payload: string): Promise<void> {
    const client = this.client
    if (!client)
      return Promise.reject(
        new KampungError('not_started', `${this.opts.name} is not connected`, { retryable: true }),
      )
    return new Promise((resolve, reject) =>
      client.publish(topic, payload, { qos: 1 }, (err) => (err ? reject(err) : resolve())),
    )
  }

  private announce(client: MqttClient): void {
    const topic = this.opts.stateTopic
    if (!topic || this.opts.adopted) return
    client.publish(topic, JSON.stringify({ state: 'online', atMs: Date.now() }), { qos: 1, retain: true })
  }

  private subscribe(client: MqttClient): Promise<void> {
    const group = this.opts.sharedGroup
    const filters = this.opts.topicFilters.map((f) => (group ? `$share/${group}/${f}` : f))
    return new Promise((resolve, reject) => {
      client.subscribe(filters, { qos: 1 }, (err, granted) => {
        if (err) return reject(err)
        if (granted?.some((g) => g.qos > 2))
          return reject(new Error(`broker refused subscription to ${filters.join(', ')}`))
        resolve()
      })
    })
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

  async stop(): Promise<void> {
    const client = this.client
    if (!client) return
    this.stopping = true
    // Stop taking messages, let accepted ones finish and their PUBACKs go out, then close.
    await Promise.allSettled([...this.inFlight])
    await new Promise((r) => setImmediate(r))
    // With a state topic, a planned stop publishes the will too (after its delay): peers adopt the
    // session, which on Mosquitto keeps receiving its share of the messages while we are away.
    if (this.opts.stateTopic && this.opts.protocolVersion === 5)
      await client.endAsync(false, { reasonCode: DISCONNECT_WITH_WILL })
    else await client.endAsync()
    this.client = undefined
  }
}
