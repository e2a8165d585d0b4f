import type { MqttClient } from 'mqtt'
import { getLogger } from '../src/log.ts'
import { DEFAULT_SENSOR, SENSOR_PATTERN, statusMessage, topics } from '../src/telemetry/index.ts'
import { GatewayQueue } from './queue.ts'
import {
  type Backoff,
  type LinkState,
  NodeUplink,
  type NodeUplinkStats,
  RateLimiter,
  UplinkConnection,
} from './uplink.ts'

/** A registered device the gateway forwards for, with the device's own credentials. */
export interface NodeCredentials {
  village: string
  secret: string
}

/** What a node driver hands over: one sensor's values at one time (`values`: quantity → number). */
export interface NodeReading {
  sensor?: string
  values: Record<string, number>
}

export type SubmitResult =
  | { ok: true }
  | { ok: false; reason: 'unknown_device' | 'invalid' | 'queue_full' | 'stopped'; message: string }

export interface GatewayOptions {
  /** The gateway's own device (kind `gateway`): it publishes the health on its health topic. */
  gateway: { id: string; village: string; secret: string }
  /** Broker URL, e.g. `mqtt://broker.example:1883` or `mqtts://…`. */
  url: string
  /** The nodes this gateway forwards for: device id → its village and secret. */
  nodes: Record<string, NodeCredentials>
  /** Directory of the durable queue (`gateway-queue.sqlite`). */
  dataDir: string
  /** The queue's bound: entries are refused (counted, logged) beyond it. */
  maxQueueEntries?: number
  maxQueueBytes?: number
  /** Unacknowledged messages per node at most. */
  maxInFlightPerNode?: number
  /** Entries per uplink message at most (the native JSON array). */
  maxEntriesPerMessage?: number
  /** JSON bytes per uplink message at most (the broker refuses payloads over 64 KiB). */
  maxPayloadBytes?: number
  /** Messages per second the whole gateway sends at most (a backlog drains at this pace). */
  maxMessagesPerSec?: number
  /** How often the health is published (retained) on the gateway's health topic. */
  healthIntervalMs?: number
  /** How long stop() keeps forwarding before it closes; the rest stays queued on disk. */
  stopDrainTimeoutMs?: number
  connectTimeoutMs?: number
  /** Reconnect backoff when the broker is unreachable. */
  reconnectBackoff?: Backoff
  /** Reconnect backoff when the broker refuses a node's credentials (CONNACK 2/4/5). */
  refusedBackoff?: Backoff
  /** The gateway's clock, stamping readings of nodes without one. */
  clock?: () => number
  /**
   * A command that arrived on a node's down topic, handed to the node; its answer (`{id, ok,
   * error?}`) goes into the durable queue and from there on the node's ack topic. Undefined: no
   * answer (the service sends the command again later). Without this option the gateway does not
   * subscribe to its nodes' down topics.
   */
  onCommand?: CommandHandler
}

/** Relays one command to a node (firmware) and returns the node's answer, if any. */
export type CommandHandler = (
  deviceId: string,
  payload: Buffer,
) => Promise<object | undefined> | object | undefined

export const defaultOptions = {
  maxQueueEntries: 1_000_000,
  maxQueueBytes: 256 * 1024 * 1024,
  // 2: the next batch is on the wire while the store writes the previous one; more only piles up
  // in the broker's authorisation hook.
  maxInFlightPerNode: 2,
  maxEntriesPerMessage: 200,
  // The broker refuses payloads over 64 KiB; 48 KiB leaves room for a topic and a margin.
  maxPayloadBytes: 48 * 1024,
  // 20 messages/s × 200 entries = 4 000 entries/s: a day of a village's backlog in a few seconds,
  // yet a trickle next to what one broker takes.
  maxMessagesPerSec: 20,
  healthIntervalMs: 30_000,
  stopDrainTimeoutMs: 2_000,
  connectTimeoutMs: 10_000,
  reconnectBackoff: { initialMs: 500, maxMs: 30_000 },
  refusedBackoff: { initialMs: 10_000, maxMs: 10 * 60_000 },
}

/** An entry's JSON stays far under a message (`values` of a weather station is ~300 bytes). */
const MAX_ENTRY_BYTES = 4 * 1024
/** stop() waits at most this long for the PUBACK of its `offline` status. */
const OFFLINE_PUBACK_WAIT_MS = 1_000
/** stop() polls the links this often while draining. */
const DRAIN_POLL_MS = 50

export interface UplinkHealth {
  state: LinkState
  sinceMs: number
}

export interface GatewayHealth {
  state: 'online'
  atMs: number
  /** The gateway's own connection to the broker. */
  uplink: UplinkHealth
  queueDepth: number
  /** Age of the oldest queued entry (since it was queued); 0 when the queue is empty. */
  oldestQueuedMs: number
  /** Entries acknowledged by the broker since start. */
  forwarded: number
  /** Entries refused since start because the queue was full. */
  refusedQueueFull: number
  /** Entries refused since start as invalid (unknown device, not a finite number, …). */
  refusedInvalid: number
  /** Nodes' answers to commands waiting for the uplink (durable, like readings). */
  queuedAcks: number
  nodes: Record<string, NodeUplinkStats>
}

/**
 * The village edge gateway: node readings go into the durable queue first, then out to the broker
 * with each node's own credentials; an entry leaves the queue only on the broker's PUBACK, which in
 * our system means the readings are stored. Health is published retained on the gateway's own
 * health topic (`kampung/<village>/<gateway>/health`); its online/offline is the broker's to say.
 */
export class Gateway {
  private readonly opts: Required<Omit<GatewayOptions, 'clock' | 'onCommand'>> & {
    clock: () => number
    onCommand?: CommandHandler
  }
  private readonly log = getLogger('gateway')
  private queue: GatewayQueue | undefined
  private readonly links = new Map<string, NodeUplink>()
  private own: UplinkConnection | undefined
  private healthTimer: NodeJS.Timeout | undefined
  private forwarded = 0
  private refusedInvalid = 0
  private running = false
  /** Logged once per outage: set while the uplink is down. */
  private downSinceMs: number | undefined

  constructor(opts: GatewayOptions) {
    this.opts = { ...defaultOptions, clock: Date.now, ...opts }
  }

  async start(): Promise<void> {
    if (this.running) return
    const o = this.opts
    const queue = new GatewayQueue({
      dir: o.dataDir,
      maxEntries: o.maxQueueEntries,
      maxBytes: o.maxQueueBytes,
      clock: o.clock,
    })
    queue.start()
    this.queue = queue
    const limiter = new RateLimiter(o.maxMessagesPerSec)
    const linkLog = getLogger('gateway.uplink')
    for (const [deviceId, cred] of Object.entries(o.nodes)) {
      const link = new NodeUplink({
        url: o.url,
        deviceId,
        village: cred.village,
        secret: cred.secret,
        queue,
        limiter,
        maxInFlight: o.maxInFlightPerNode,
        maxEntriesPerMessage: o.maxEntriesPerMessage,
        maxPayloadBytes: o.maxPayloadBytes,
        connectTimeoutMs: o.connectTimeoutMs,
        backoff: o.reconnectBackoff,
        refusedBackoff: o.refusedBackoff,
        log: linkLog,
        onForwarded: (n) => {
          this.forwarded += n
        },
        onCommand: o.onCommand && ((payload) => o.onCommand!(deviceId, payload)),
      })
      this.links.set(deviceId, link)
    }
    const orphans = queue
      .peek(1)
      .map((b) => b.device)
      .filter((d) => !this.links.has(d))
    if (orphans.length > 0) {
      this.log.warn({ devices: orphans }, 'queued readings of devices no longer configured stay on disk')
    }
    const statusTopic = topics.status(o.gateway.village, o.gateway.id)
    this.own = new UplinkConnection({
      url: o.url,
      clientId: `${o.gateway.id}:health`,
      username: o.gateway.id,
      password: o.gateway.secret,
      will: { topic: statusTopic, payload: statusMessage('offline'), retain: true, qos: 1 },
      connectTimeoutMs: o.connectTimeoutMs,
      backoff: o.reconnectBackoff,
      refusedBackoff: o.refusedBackoff,
      log: this.log,
      onUp: (client) => this.onUplinkUp(client),
      onDown: () => this.onUplinkDown(),
      onAttemptFailed: () => this.onUplinkDown(),
    })
    this.running = true
    this.downSinceMs = undefined
    this.own.start()
    for (const link of this.links.values()) link.start()
    this.healthTimer = setInterval(() => this.publishHealth(), o.healthIntervalMs)
    this.log.info({ url: o.url, nodes: this.links.size, queued: queue.depth() }, 'gateway started')
  }

  /**
   * Keep forwarding for up to `drainTimeoutMs` (default stopDrainTimeoutMs) while links are up and
   * have something to send, then cut every connection; what was not acknowledged stays queued.
   */
  async stop(options: { drainTimeoutMs?: number } = {}): Promise<void> {
    if (!this.running) return
    this.running = false
    clearInterval(this.healthTimer)
    this.healthTimer = undefined
    const deadline = Date.now() + (options.drainTimeoutMs ?? this.opts.stopDrainTimeoutMs)
    while (Date.now() < deadline && [...this.links.values()].some((l) => l.busy())) {
      await new Promise((r) => setTimeout(r, DRAIN_POLL_MS))
    }
    await Promise.all([...this.links.values()].map((l) => l.stop()))
    this.links.clear()
    // DISCONNECT sends no will: behind Mosquitto the gateway says `offline` itself first (our
    // broker acknowledges and drops that, and writes its own `offline` on the DISCONNECT).
    const own = this.own?.connected
    if (own)
      await Promise.race([
        own
          .publishAsync(
            topics.status(this.opts.gateway.village, this.opts.gateway.id),
            statusMessage('offline', Date.now()),
            { qos: 1, retain: true },
          )
          .catch(() => {}),
        new Promise((r) => setTimeout(r, OFFLINE_PUBACK_WAIT_MS)),
      ])
    await this.own?.stop(true)
    this.own = undefined
    const left = this.queue?.depth() ?? 0
    if (left > 0) this.log.warn({ queued: left }, 'gateway stopped; readings stay queued on disk')
    else this.log.info('gateway stopped; queue empty')
    this.queue?.stop()
    this.queue = undefined
  }

  /**
   * Queue one reading of a node and have it forwarded. Synchronous: when it returns ok the reading
   * is on disk. Stamped with the gateway's clock when the node has none (`timeMs` undefined).
   * Refusals are returned, not thrown: a node driver counts them and carries on.
   */
  submit(deviceId: string, reading: NodeReading, timeMs?: number): SubmitResult {
    return this.submitMany(deviceId, [{ ...reading, timeMs }])
  }

  /** Queue several readings of one node in one transaction (a node's own backlog); all or none. */
  submitMany(deviceId: string, readings: ReadonlyArray<NodeReading & { timeMs?: number }>): SubmitResult {
    const queue = this.queue
    if (!queue || !this.running)
      return { ok: false, reason: 'stopped', message: 'the gateway is not running' }
    const link = this.links.get(deviceId)
    if (!link) {
      this.refusedInvalid += readings.length
      return {
        ok: false,
        reason: 'unknown_device',
        message: `no credentials for device ${JSON.stringify(deviceId)}`,
      }
    }
    const now = this.opts.clock()
    const entries = []
    for (const r of readings) {
      const problem = invalidReading(r, r.timeMs)
      if (problem) {
        this.refusedInvalid += readings.length
        return { ok: false, reason: 'invalid', message: problem }
      }
      entries.push({ ts: r.timeMs ?? now, sensor: r.sensor ?? DEFAULT_SENSOR, values: r.values })
    }
    const result = queue.enqueue(deviceId, entries)
    if (!result.ok) return result
    link.kick()
    return { ok: true }
  }

  health(): GatewayHealth {
    const stats = this.queue?.stats()
    const now = this.opts.clock()
    const nodes: Record<string, NodeUplinkStats> = {}
    for (const [id, link] of this.links) nodes[id] = link.stats()
    return {
      state: 'online',
      atMs: now,
      uplink: { state: this.own?.state ?? 'stopped', sinceMs: this.own?.sinceMs ?? now },
      queueDepth: stats?.entries ?? 0,
      oldestQueuedMs:
        stats?.oldestEnqueuedAtMs === undefined ? 0 : Math.max(0, now - stats.oldestEnqueuedAtMs),
      forwarded: this.forwarded,
      refusedQueueFull: stats?.refusedFull ?? 0,
      refusedInvalid: this.refusedInvalid,
      queuedAcks: this.queue?.ackDepth() ?? 0,
      nodes,
    }
  }

  private onUplinkUp(client: MqttClient): void {
    if (this.downSinceMs !== undefined) {
      this.log.info(
        { downForMs: Date.now() - this.downSinceMs, queued: this.queue?.depth() ?? 0 },
        'uplink back; forwarding the queue',
      )
      this.downSinceMs = undefined
    } else {
      this.log.info({ url: this.opts.url }, 'uplink connected')
    }
    // Behind Mosquitto, which writes no statuses, this and the will are the gateway's online and
    // offline; the embedded broker acknowledges and drops it (it writes `…/status` itself).
    client.publish(
      topics.status(this.opts.gateway.village, this.opts.gateway.id),
      statusMessage('online', Date.now()),
      { qos: 1, retain: true },
    )
    this.publishHealth(client)
  }

  private onUplinkDown(): void {
    if (!this.running || this.downSinceMs !== undefined) return
    this.downSinceMs = Date.now()
    this.log.warn({ url: this.opts.url }, 'uplink down; queueing readings on disk')
  }

  private publishHealth(client = this.own?.connected): void {
    if (!client || !this.running) return
    const h = this.health()
    const payload = {
      state: h.state,
      atMs: h.atMs,
      queueDepth: h.queueDepth,
      oldestQueuedMs: h.oldestQueuedMs,
      uplink: h.uplink,
      forwarded: h.forwarded,
      refusedQueueFull: h.refusedQueueFull,
      queuedAcks: h.queuedAcks,
      nodes: Object.fromEntries(
        Object.entries(h.nodes).map(([id, n]) => [id, { state: n.state, sinceMs: n.sinceMs }]),
      ),
    }
    client.publish(topics.health(this.opts.gateway.village, this.opts.gateway.id), JSON.stringify(payload), {
      qos: 1,
      retain: true,
    })
  }
}

/** Why a node reading cannot be queued, or undefined. The server checks ranges and quantities. */
function invalidReading(r: NodeReading, timeMs: number | undefined): string | undefined {
  if (r.sensor !== undefined && !SENSOR_PATTERN.test(r.sensor))
    return `sensor ${JSON.stringify(r.sensor)} is not allowed`
  if (timeMs !== undefined && !Number.isSafeInteger(timeMs))
    return `timeMs ${timeMs} is not integer ms since the epoch`
  if (typeof r.values !== 'object' || r.values === null) return 'values must be an object {quantity: number}'
  const keys = Object.keys(r.values)
  if (keys.length === 0) return 'values is empty'
  for (const k of keys) {
    const v = r.values[k]
    if (typeof v !== 'number' || !Number.isFinite(v))
      return `value of ${k} is ${String(v)}, not a finite number`
  }
  if (JSON.stringify(r.values).length > MAX_ENTRY_BYTES) return `values over ${MAX_ENTRY_BYTES} bytes`
  return undefined
}
