import mqtt, { type IClientOptions, type MqttClient } from 'mqtt'
import type { Logger } from '../src/log.ts'
import { statusMessage, topics } from '../src/telemetry/index.ts'
import type { GatewayQueue } from './queue.ts'

export type LinkState = 'connecting' | 'connected' | 'disconnected' | 'refused' | 'stopped'

export interface Backoff {
  initialMs: number
  maxMs: number
}

/** CONNACK return codes (MQTT 3.1.1 §3.2.2.3) that mean "these credentials will not do". */
const REFUSAL_CODES: Readonly<Record<number, string>> = {
  2: 'identifier rejected',
  4: 'bad user name or password',
  5: 'not authorized',
}
/** ±20 % so a village's nodes do not all knock at the same instant after the broker is back. */
const JITTER = 0.2
/** A connection that lasted this long was a good one: the next failure starts the backoff afresh. */
const STABLE_CONNECTION_MS = 5_000
/** Drops before any PUBACK, in a row, after which a node's link is reported stuck (once). */
const STUCK_AFTER_DROPS = 3

export interface ConnectionOptions {
  url: string
  clientId: string
  username: string
  password: string
  will?: { topic: string; payload: string; retain: boolean; qos: 0 | 1 }
  connectTimeoutMs: number
  /** Between attempts when the broker is unreachable or dropped us. */
  backoff: Backoff
  /** Between attempts when the broker refused the credentials (CONNACK 2/4/5). */
  refusedBackoff: Backoff
  log: Logger
  onUp?: (client: MqttClient) => void
  onDown?: () => void
  /** Every attempt that ended without a connection (unreachable, refused, timed out). */
  onAttemptFailed?: () => void
}

/**
 * One MQTT connection with its own credentials, reconnecting with exponential backoff. Each
 * attempt is a fresh mqtt.js client (its own reconnect is off): what was not acknowledged is resent
 * from the durable queue by the owner, never from mqtt.js's in-memory store.
 */
export class UplinkConnection {
  private readonly opts: ConnectionOptions
  private client: MqttClient | undefined
  private generation = 0
  private failures = 0
  private timer: NodeJS.Timeout | undefined
  private connectedAtMs = 0
  private refusal: number | undefined
  private _state: LinkState = 'stopped'
  private _sinceMs = Date.now()
  lastError: string | undefined

  constructor(opts: ConnectionOptions) {
    this.opts = opts
  }

  get state(): LinkState {
    return this._state
  }
  get sinceMs(): number {
    return this._sinceMs
  }
  /** The live client, only while connected. */
  get connected(): MqttClient | undefined {
    return this._state === 'connected' ? this.client : undefined
  }

  start(): void {
    if (this._state !== 'stopped') return
    this.setState('connecting')
    this.connect()
  }

  /** Close the connection; `graceful` sends DISCONNECT (no will), otherwise the socket is cut. */
  async stop(graceful = true): Promise<void> {
    clearTimeout(this.timer)
    this.timer = undefined
    this.generation++
    const client = this.client
    this.client = undefined
    const wasUp = this._state === 'connected'
    this.setState('stopped')
    if (wasUp) this.opts.onDown?.()
    if (client) await client.endAsync(!graceful || !client.connected).catch(() => {})
  }

  private setState(state: LinkState): void {
    if (state === this._state) return
    this._state = state
    this._sinceMs = Date.now()
  }

  private connect(): void {
    const gen = ++this.generation
    const o = this.opts
    const options: IClientOptions = {
      clientId: o.clientId,
      username: o.username,
      password: o.password,
      protocolVersion: 4,
      clean: true,
      reconnectPeriod: 0,
      connectTimeout: o.connectTimeoutMs,
      will: o.will,
    }
    const client = mqtt.connect(o.url, options)
    this.client = client
    let refusedCode: number | undefined
    client.on('error', (err) => {
      const code = (err as { code?: unknown }).code
      if (typeof code === 'number' && code in REFUSAL_CODES) refusedCode = code
      this.lastError = err.message
    })
    client.on('connect', () => {
      if (gen !== this.generation) return
      if (this.refusal !== undefined) {
        o.log.info({ clientId: o.clientId }, 'credentials accepted again')
        this.refusal = undefined
      }
      this.lastError = undefined
      this.connectedAtMs = Date.now()
      this.setState('connected')
      o.onUp?.(client)
    })
    client.on('close', () => {
      if (gen !== this.generation) return
      this.generation++
      this.client = undefined
      client.end(true)
      const wasUp = this._state === 'connected'
      if (wasUp && Date.now() - this.connectedAtMs >= STABLE_CONNECTION_MS) this.failures = 0
      let backoff = o.backoff
      if (refusedCode !== undefined) {
        backoff = o.refusedBackoff
        if (this.refusal !== refusedCode) {
          // Once per cause: a wrong secret retried every minute must not fill the log.
          o.log.error(
            { clientId: o.clientId, connack: refusedCode, reason: REFUSAL_CODES[refusedCode] },
            'broker refused the credentials; readings stay queued, retrying with backoff',
          )
          this.refusal = refusedCode
        }
        this.setState('refused')
      } else {
        this.setState('disconnected')
      }
      if (wasUp) o.onDown?.()
      else o.onAttemptFailed?.()
      const base = Math.min(backoff.maxMs, backoff.initialMs * 2 ** Math.min(this.failures, 30))
      this.failures++
      const delayMs = Math.round(base * (1 - JITTER + Math.random() * 2 * JITTER))
      this.timer = setTimeout(() => {
        this.timer = undefined
        this.connect()
      }, delayMs)
    })
  }

  /** Call when the link made progress (a PUBACK came): the next failure starts backing off afresh. */
  progressed(): void {
    this.failures = 0
  }
}

/**
 * Evenly spaced message slots shared by all nodes of a gateway: a backlog after a long outage goes
 * out at this pace, so the broker sees a steady stream instead of every node flushing at once.
 */
export class RateLimiter {
  private readonly intervalMs: number
  private nextMs = 0

  constructor(messagesPerSec: number) {
    this.intervalMs = 1000 / messagesPerSec
  }

  /** Ms until a slot is free (0: take it now). */
  waitMs(now = Date.now()): number {
    return Math.max(0, Math.ceil(this.nextMs - now))
  }

  take(now = Date.now()): void {
    // No bursts saved up while idle: at most one message per interval.
    this.nextMs = Math.max(this.nextMs, now) + this.intervalMs
  }
}

export interface NodeUplinkOptions {
  url: string
  deviceId: string
  village: string
  secret: string
  queue: GatewayQueue
  limiter: RateLimiter
  maxInFlight: number
  maxEntriesPerMessage: number
  maxPayloadBytes: number
  connectTimeoutMs: number
  backoff: Backoff
  refusedBackoff: Backoff
  log: Logger
  onForwarded?: (entries: number) => void
  /** A command on the node's down topic; the answer is published on its ack topic (QoS 1). */
  onCommand?: (payload: Buffer) => Promise<object | undefined> | object | undefined
  onUp?: () => void
  onDown?: () => void
}

export interface NodeUplinkStats {
  state: LinkState
  sinceMs: number
  inFlight: number
  /** The most messages ever unacknowledged at once on this link (≤ maxInFlight). */
  maxInFlightSeen: number
  forwarded: number
  /** Rejection reports the server sent back on the node's errors topic. */
  rejectedByServer: number
  lastError?: string
}

interface InFlight {
  ids: number[]
}

/**
 * Forwards one node's queued entries with the node's own credentials: oldest first, in batches of
 * the native JSON array format, QoS 1, at most maxInFlight unacknowledged; an entry leaves the
 * queue only on its PUBACK. After a reconnect it resends from the oldest unacknowledged entry (the
 * store is idempotent, so a message whose PUBACK was lost makes no second point).
 */
export class NodeUplink {
  readonly deviceId: string
  private readonly opts: NodeUplinkOptions
  private readonly conn: UplinkConnection
  private readonly topic: string
  private readonly inFlight = new Map<number, InFlight>()
  private nextSeq = 0
  /** Highest queue id sent on the current connection. */
  private lastSentId = 0
  private sessionGen = 0
  private rateTimer: NodeJS.Timeout | undefined
  private forwarded = 0
  private rejectedByServer = 0
  private maxInFlightSeen = 0
  private readonly loggedReasons = new Set<string>()
  /** Connections in a row that closed with messages in flight and not one PUBACK. */
  private dropsWithoutAck = 0
  private ackedThisSession = false
  private stuckLogged = false
  /** Queued command answers published on the current connection, awaiting their PUBACK. */
  private readonly acksInFlight = new Set<number>()

  constructor(opts: NodeUplinkOptions) {
    this.opts = opts
    this.deviceId = opts.deviceId
    this.topic = topics.up(opts.village, opts.deviceId)
    this.conn = new UplinkConnection({
      url: opts.url,
      // `<id>:gw`: the broker lets a device hold connections `<id>:…` (ids never contain ':'), so
      // a node that also talks to the broker directly is not kicked off by its gateway.
      clientId: `${opts.deviceId}:gw`,
      username: opts.deviceId,
      password: opts.secret,
      // Behind Mosquitto, which writes no statuses, the node's status is this link's: `online`
      // once it listens on its down topic (onUp), this will when it drops. Our broker writes its own.
      will: {
        topic: topics.status(opts.village, opts.deviceId),
        payload: statusMessage('offline'),
        retain: true,
        qos: 1,
      },
      connectTimeoutMs: opts.connectTimeoutMs,
      backoff: opts.backoff,
      refusedBackoff: opts.refusedBackoff,
      log: opts.log.child({ device: opts.deviceId }),
      onUp: (client) => this.onUp(client),
      onDown: () => this.onDown(),
    })
  }

  start(): void {
    this.conn.start()
  }

  async stop(): Promise<void> {
    clearTimeout(this.rateTimer)
    this.rateTimer = undefined
    // Cut, not DISCONNECT after the in-flight messages: what is unacknowledged stays queued.
    await this.conn.stop(false)
  }

  /** New entries are queued: send them if the window allows. */
  kick(): void {
    this.pump()
  }

  /** True while something of this node could still go out on the live connection. */
  busy(): boolean {
    if (this.conn.state !== 'connected') return false
    return this.inFlight.size > 0 || this.opts.queue.peek(1, { device: this.deviceId }).length > 0
  }

  stats(): NodeUplinkStats {
    return {
      state: this.conn.state,
      sinceMs: this.conn.sinceMs,
      inFlight: this.inFlight.size,
      maxInFlightSeen: this.maxInFlightSeen,
      forwarded: this.forwarded,
      rejectedByServer: this.rejectedByServer,
      lastError: this.conn.lastError,
    }
  }

  private onUp(client: MqttClient): void {
    this.sessionGen++
    this.ackedThisSession = false
    this.inFlight.clear()
    this.acksInFlight.clear()
    this.lastSentId = 0
    const down = topics.down(this.opts.village, this.deviceId)
    client.on('message', (topic, payload) => {
      if (topic === down) this.onCommand(payload)
      else this.onServerReport(topic, payload)
    })
    client.subscribe(topics.errors(this.opts.village, this.deviceId), { qos: 1 }, () => {})
    // `online` says "commands reach this node now" to a sender behind Mosquitto: only after the
    // down subscription is in place (its SUBACK), as the embedded broker's subscribe event does.
    const announce = () =>
      client.publish(
        topics.status(this.opts.village, this.deviceId),
        statusMessage('online', Date.now()),
        { qos: 1, retain: true },
        () => {},
      )
    if (this.opts.onCommand) client.subscribe(down, { qos: 1 }, (err) => err || announce())
    else announce()
    this.opts.onUp?.()
    this.sendAcks()
    this.pump()
  }

  private onDown(): void {
    if (this.inFlight.size > 0 && !this.ackedThisSession) {
      this.dropsWithoutAck++
      // The broker drops a connection on a publish it refuses (ACL, payload size): the same batch
      // then fails again on every reconnect. Say so once; the backoff keeps it from spinning.
      if (this.dropsWithoutAck >= STUCK_AFTER_DROPS && !this.stuckLogged) {
        this.stuckLogged = true
        this.opts.log.error(
          { device: this.deviceId, topic: this.topic, drops: this.dropsWithoutAck },
          'broker keeps dropping the connection before any PUBACK: is the village right? readings stay queued',
        )
      }
    }
    this.sessionGen++
    this.inFlight.clear()
    this.acksInFlight.clear()
    this.lastSentId = 0
    clearTimeout(this.rateTimer)
    this.rateTimer = undefined
    this.opts.onDown?.()
  }

  private pump(): void {
    const o = this.opts
    while (this.inFlight.size < o.maxInFlight && this.rateTimer === undefined) {
      const client = this.conn.connected
      if (!client) return
      const [batch] = o.queue.peek(o.maxEntriesPerMessage, {
        device: this.deviceId,
        afterId: this.lastSentId,
        maxBytes: o.maxPayloadBytes,
      })
      if (!batch) return
      const waitMs = o.limiter.waitMs()
      if (waitMs > 0) {
        this.rateTimer = setTimeout(() => {
          this.rateTimer = undefined
          this.pump()
        }, waitMs)
        return
      }
      o.limiter.take()
      const ids = batch.entries.map((e) => e.id)
      this.lastSentId = ids[ids.length - 1]!
      const seq = this.nextSeq++
      this.inFlight.set(seq, { ids })
      this.maxInFlightSeen = Math.max(this.maxInFlightSeen, this.inFlight.size)
      const gen = this.sessionGen
      const payload = `[${batch.entries.map((e) => e.json).join(',')}]`
      client.publish(this.topic, payload, { qos: 1 }, (err) => {
        if (err) {
          // Connection closed before the PUBACK: onDown resets, the entries are resent from the queue.
          return
        }
        // PUBACK = the readings are durable in the store: only now may they leave the queue.
        o.queue.ack(ids)
        this.ackedThisSession = true
        this.dropsWithoutAck = 0
        this.stuckLogged = false
        this.forwarded += ids.length
        o.onForwarded?.(ids.length)
        this.conn.progressed()
        if (gen !== this.sessionGen) return
        this.inFlight.delete(seq)
        this.pump()
      })
    }
  }

  /**
   * Relays a command to the node; its answer goes into the durable queue first, then out on the
   * node's ack topic (QoS 1), and leaves the queue on the PUBACK. An answer given while the link is
   * down, or whose PUBACK never came, goes out when the link is back, also after a restart of the
   * gateway: the service learns of it without sending the command again. A repeated answer (the
   * node answers a repeated id from memory) only counts at the service.
   */
  private onCommand(payload: Buffer): void {
    const handler = this.opts.onCommand
    if (!handler) return
    Promise.resolve()
      .then(() => handler(payload))
      .then((ack) => {
        if (!ack) return
        const queued = this.opts.queue.enqueueAck(this.deviceId, JSON.stringify(ack))
        if (!queued.ok) {
          this.opts.log.error(
            { device: this.deviceId, reason: queued.reason, message: queued.message },
            'command answer not queued; the service sends the command again',
          )
          return
        }
        this.sendAcks()
      })
      .catch((err: unknown) => {
        this.opts.log.warn({ device: this.deviceId, err }, 'command not relayed to the node')
      })
  }

  /** Publishes this node's queued answers not yet on the wire, oldest first. */
  private sendAcks(): void {
    const client = this.conn.connected
    if (!client) return
    const gen = this.sessionGen
    const topic = topics.ack(this.opts.village, this.deviceId)
    for (const ack of this.opts.queue.acksOf(this.deviceId)) {
      if (this.acksInFlight.has(ack.id)) continue
      this.acksInFlight.add(ack.id)
      client.publish(topic, ack.json, { qos: 1 }, (err) => {
        if (gen === this.sessionGen) this.acksInFlight.delete(ack.id)
        // No PUBACK (the link dropped): it stays queued and goes out on the next connection.
        if (!err) this.opts.queue.ackSent(ack.id)
      })
    }
  }

  private onServerReport(topic: string, payload: Buffer): void {
    if (!topic.endsWith('/errors')) return
    let reasons: string[] = []
    try {
      const report = JSON.parse(payload.toString()) as { rejected?: Array<{ reason?: string }> }
      reasons = (report.rejected ?? []).map((r) => r.reason ?? 'unknown')
    } catch {
      reasons = ['unparseable_report']
    }
    this.rejectedByServer += reasons.length
    for (const reason of reasons) {
      if (this.loggedReasons.has(reason)) continue
      this.loggedReasons.add(reason)
      this.opts.log.warn(
        { device: this.deviceId, reason, report: payload.toString().slice(0, 500) },
        'server rejected readings (logged once per device and reason)',
      )
    }
  }
}
