import { readFile } from 'node:fs/promises'
import { type AddressInfo, createServer, type Server, type Socket } from 'node:net'
import { createServer as createTlsServer } from 'node:tls'
import { Aedes, type AedesOptions, type AuthenticateError, type Client } from 'aedes'
import { getLogger } from '../src/log.ts'
import type { Device, DeviceAuthResult, Registry } from '../src/registry/index.ts'
import { isStatusTopic, parseDeviceTopic, statusMessage, topics } from '../src/telemetry/index.ts'
import { canSubscribe, classifyPublish, clientIdBelongsTo, type RefusalCause, willAllowed } from './acl.ts'
import { type BrokerClusterOptions, type ClusterBackends, clusterDefaults, redisBackends } from './cluster.ts'
import { DeviceConnections } from './device-connections.ts'
import { guardSocket, PacketTooLargeError } from './frame-guard.ts'
import {
  fastPathProblem,
  installedVersions,
  installPublishFastPath,
  type MqttPacketParser,
} from './publish-fast-path.ts'

const log = getLogger('broker')

/**
 * The in-process ingest's hook: calls `done` once, with no error (or null) to acknowledge the
 * message, with an error not to. A callback, not a promise: it runs per message on the ingest's
 * hot path (an edge that has a promise calls `done` from its settlement).
 */
export type OnUplink = (
  device: Device,
  topic: string,
  payload: Buffer,
  done: (error?: unknown) => void,
) => void

export interface BrokerTlsOptions {
  port: number
  keyPath: string
  certPath: string
}

export interface BrokerOptions {
  port: number
  host: string
  tls?: BrokerTlsOptions
  maxPayloadBytes: number
  connectTimeoutMs: number
  registry: Registry
  /**
   * Awaited before a device's uplink is acknowledged (QoS 1 PUBACK); rejecting withholds the
   * PUBACK and drops the client, which resends. The in-process ingest.
   */
  onUplink?: OnUplink
  /**
   * Also deliver uplinks that onUplink consumed to MQTT subscribers (e.g. a debugging
   * `mosquitto_sub -t kampung/#` as a service). Off by default: the in-process ingest is their
   * consumer, and aedes' generic fan-out (offline-queue lookup, trie match, emit) was ~20 % of the
   * broker's CPU per uplink in the ingest benchmark.
   */
  forwardUplinks?: boolean
  /** Called on every refusal, e.g. to count it in Prometheus. */
  onRefused?: (cause: RefusalCause) => void
  /**
   * Every message on a device status topic (`kampung/<village>/<device>/status`): the broker's own
   * online/offline, a device's will, a gateway's health. The alerts engine's offline inhibition.
   */
  onStatus?: (topic: string, payload: Buffer) => void
  /**
   * Share subscriptions, retained messages and offline queues with other instances through Redis
   * (mqemitter-redis + aedes-persistence-redis). Without it, all of that lives in this process.
   */
  cluster?: Partial<BrokerClusterOptions> & { redisUrl: string }
  /** Open connections one device (one credential) may hold; more are refused with CONNACK 3. */
  maxConnectionsPerDevice: number
}

/** Every tunable, with the reason for its default. */
export const defaultOptions = {
  /** Plain MQTT; 0 picks a free port (tests), read it back with `broker.port`. */
  port: 1883,
  host: '0.0.0.0',
  /** No TLS listener unless configured; MQTT over TLS is conventionally port 8883. */
  tls: undefined as BrokerTlsOptions | undefined,
  /**
   * A sensor reading batch is a few hundred bytes; 64 KiB leaves room for a gateway batching a
   * village's nodes while keeping a bad client from making the broker buffer megabytes.
   */
  maxPayloadBytes: 64 * 1024,
  /** A socket that never sends CONNECT holds a file descriptor; aedes' default is 30 s. */
  connectTimeoutMs: 30_000,
  forwardUplinks: false,
  /**
   * A node needs one connection, a gateway a few (`gw-01-a`, `gw-01-b`); a reconnect over a
   * half-open socket reuses its client id and is not counted twice. One credential held 2 000.
   */
  maxConnectionsPerDevice: 8,
  /**
   * Clustered, a QoS 1 publish is handed to Redis (queues of persistent subscribers, pub/sub)
   * before its PUBACK. Redis that does not answer in this time drops the client unacknowledged
   * (it resends) rather than leaving its message hanging.
   */
  clusterPublishTimeoutMs: 10_000,
} satisfies Partial<BrokerOptions> & { clusterPublishTimeoutMs: number }

/**
 * Room for the rest of a PUBLISH besides the payload (topic up to 4 KiB, message id). A packet
 * declaring more than payload + this is dropped before it is buffered; one between the two
 * limits is refused by authorizePublish with the device still identified.
 */
const PACKET_OVERHEAD_BYTES = 4 * 1024
/** Caps the log-once memory so a flood of made-up usernames cannot grow it without bound. */
const LOG_ONCE_MAX_KEYS = 10_000

export interface BrokerStats {
  /** Refusals by cause since start. */
  refused: Record<RefusalCause, number>
  /** Client and connection errors (garbage bytes, resets, timeouts) since start. */
  clientErrors: number
  connectedClients: number
}

/** An authentication refusal carrying the MQTT 3.1.1 CONNACK return code for aedes. */
function connackError(returnCode: 2 | 3 | 4 | 5, message: string): AuthenticateError {
  return Object.assign(new Error(message), { returnCode }) as AuthenticateError
}

/** A publish refused by the ACL or by onUplink: already counted and logged when thrown. */
class AclRefusal extends Error {
  override name = 'AclRefusal'
}

/** Logs a message the first time a key is seen: a device retrying every second logs once. */
class LogOnce {
  private readonly seen = new Set<string>()

  first(key: string): boolean {
    if (this.seen.has(key)) return false
    if (this.seen.size >= LOG_ONCE_MAX_KEYS) this.seen.clear()
    this.seen.add(key)
    return true
  }
}

/**
 * The MQTT broker role: aedes with device authentication against the registry, the topic ACL,
 * retained online/offline status per device, and the in-process uplink hook.
 */
export class Broker {
  private readonly opts: BrokerOptions
  private aedes: Aedes | undefined
  private backends: ClusterBackends | undefined
  /** aedes' own publish (the fan-out), unwrapped: see start(). */
  private fanOut:
    | ((packet: object, client: unknown, done: (error?: Error | null) => void) => void)
    | undefined
  private servers: Server[] = []
  private readonly principals = new WeakMap<Client, Device>()
  /** Uplink packets stored by onUplink, not to be fanned out again (see forwardUplinks). */
  private readonly consumed = new WeakSet<object>()
  private readonly willTopics = new WeakMap<Client, string>()
  private readonly willPublished = new WeakSet<Client>()
  /** The guarded stream aedes sees has no address; keep it for logs. */
  private readonly remotes = new WeakMap<Client, string>()
  private readonly online = new Map<string, Set<Client>>()
  private readonly once = new LogOnce()
  private readonly refused = Object.fromEntries(
    (
      [
        'bad_credentials',
        'client_id_mismatch',
        'will_not_allowed',
        'auth_unavailable',
        'auth_throttled',
        'device_connection_cap',
        'publish_topic',
        'payload_too_large',
        'packet_too_large',
        'uplink_failed',
        'subscribe_topic',
      ] as const
    ).map((cause) => [cause, 0]),
  ) as Record<RefusalCause, number>
  private clientErrors = 0
  /** The PUBLISH fast path goes on every client's parser; off (said once) when it cannot. */
  private fastPath = false
  private readonly connections: DeviceConnections

  constructor(opts: Partial<BrokerOptions> & { registry: Registry }) {
    this.opts = { ...defaultOptions, ...opts }
    this.connections = new DeviceConnections(this.opts.maxConnectionsPerDevice)
  }

  /** The plain MQTT port actually listened on (useful with port 0). */
  get port(): number {
    return this.portOf(0)
  }

  /** The TLS port actually listened on, if TLS is configured. */
  get tlsPort(): number | undefined {
    return this.opts.tls ? this.portOf(1) : undefined
  }

  private portOf(index: number): number {
    const address = this.servers[index]?.address() as AddressInfo | null | undefined
    if (!address) throw new Error('broker is not listening: call start() first')
    return address.port
  }

  async start(): Promise<void> {
    if (this.aedes) return
    this.fastPath = true
    const problem = fastPathProblem(installedVersions())
    if (problem) this.fastPathOff(problem)
    const aedesOptions: AedesOptions = {
      connectTimeout: this.opts.connectTimeoutMs,
      preConnect: (client, packet, done) => {
        // The CONNECT packet is only visible here; authenticate needs its will topic.
        if (packet.will) this.willTopics.set(client, packet.will.topic)
        done(null, true)
      },
      authenticate: (client, username, password, done) => {
        this.authenticate(client, username, password).then(
          () => done(null, true),
          (err: AuthenticateError) => done(err, false),
        )
      },
      authorizePublish: (client, packet, done) => {
        // Synchronous checks first; only an uplink waits (for the in-process ingest), with no
        // promise layer in between on this per-message path.
        let uplink: { device: Device; bytes: Buffer } | undefined
        try {
          uplink = this.checkPublish(client, packet.topic, packet.payload)
        } catch (err) {
          return done(err as Error)
        }
        if (
          client &&
          this.backends &&
          !this.opts.onUplink &&
          packet.qos === 1 &&
          packet.messageId !== undefined
        )
          return this.handToCluster(client, packet, done)
        const onUplink = this.opts.onUplink
        if (!uplink || !onUplink) return done(null)
        const { device, bytes } = uplink
        let settled = false
        const finish = (failed: boolean, err?: unknown) => {
          if (settled) return
          settled = true
          if (!failed) {
            if (!this.opts.forwardUplinks) this.consumed.add(packet)
            return done(null)
          }
          this.refuse('uplink_failed', device.id, 'onUplink rejected', { err })
          done(new AclRefusal('onUplink rejected: not acknowledged', { cause: err }))
        }
        try {
          onUplink(device, packet.topic, bytes, (err) => finish(err !== undefined && err !== null, err))
        } catch (err) {
          finish(true, err)
        }
      },
      authorizeSubscribe: (client, sub, done) => {
        done(null, this.authorizeSubscribe(client, sub.topic) ? sub : null)
      },
    }
    const cluster = this.opts.cluster
    if (cluster) {
      this.backends = redisBackends({ ...clusterDefaults, ...cluster })
      aedesOptions.mq = this.backends.mq
      aedesOptions.persistence = this.backends.persistence
    }
    let aedes: Aedes
    try {
      aedes = await Aedes.createBroker(aedesOptions)
    } catch (err) {
      await this.backends?.close()
      this.backends = undefined
      throw err
    }
    this.aedes = aedes
    // aedes emits 'error' when its persistence fails (e.g. Redis gone); unhandled, that would
    // end the process. The publish it belonged to times out in handToCluster instead.
    ;(aedes as unknown as NodeJS.EventEmitter).on('error', (err: Error) => {
      if (this.once.first(`aedes|${err.message}`)) log.error({ err: err.message }, 'broker persistence error')
    })
    // aedes acknowledges a QoS 1 publish, then calls broker.publish with the same packet object:
    // an uplink the in-process ingest already stored ends there unless forwarding is asked for.
    // (aedes' typings declare publish(packet, callback); its code also takes (packet, client, callback).)
    type Done = (error?: Error | null) => void
    const untyped = aedes as unknown as { publish: (packet: object, client: unknown, done?: Done) => void }
    const publish = untyped.publish.bind(aedes)
    this.fanOut = publish
    untyped.publish = (packet, client, done) => {
      if (this.consumed.delete(packet))
        return (typeof client === 'function' ? (client as Done) : done)?.(null)
      return publish(packet, client, done)
    }
    const onStatus = this.opts.onStatus
    if (onStatus) {
      aedes.on('publish', (packet) => {
        if (isStatusTopic(packet.topic))
          onStatus(
            packet.topic,
            Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload),
          )
      })
    }
    aedes.on('clientReady', (client) => this.onClientReady(client))
    aedes.on('clientDisconnect', (client) => this.onClientDisconnect(client))
    aedes.on('clientError', (client, err) => this.onClientError(client, err))
    aedes.on('connectionError', (client, err) => this.onClientError(client, err))

    const maxRemainingBytes = this.opts.maxPayloadBytes + PACKET_OVERHEAD_BYTES
    const handle = (socket: Socket) => {
      socket.on('error', () => {}) // reported through aedes' clientError; never an uncaught error
      const client = aedes.handle(guardSocket(socket, maxRemainingBytes))
      if (this.fastPath) {
        // aedes' private parser (1.2.0); without one (another aedes), mqtt-packet alone parses.
        const parser = (client as unknown as { _parser?: MqttPacketParser })._parser
        if (!installPublishFastPath(parser))
          this.fastPathOff("aedes' client has no mqtt-packet parser with the internals it reads")
      }
      if (socket.remoteAddress) this.remotes.set(client, `${socket.remoteAddress}:${socket.remotePort}`)
    }
    try {
      this.servers.push(await listen(createServer(handle), this.opts.port, this.opts.host))
      const tls = this.opts.tls
      if (tls) {
        const [key, cert] = await Promise.all([readFile(tls.keyPath), readFile(tls.certPath)])
        const server = createTlsServer({ key, cert }, handle)
        server.on('tlsClientError', (err) => this.countClientError(`tls|${err.message}`, err))
        this.servers.push(await listen(server, tls.port, this.opts.host))
      }
    } catch (err) {
      await this.stop()
      throw err
    }
    log.info({ port: this.port, tlsPort: this.tlsPort, host: this.opts.host }, 'broker listening')
  }

  async stop(): Promise<void> {
    const servers = this.servers
    const aedes = this.aedes
    this.servers = []
    this.aedes = undefined
    // Stop accepting first; server.close() resolves once aedes has closed every client.
    const closed = servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve())))
    if (aedes) await new Promise<void>((resolve) => aedes.close(() => resolve()))
    await Promise.all(closed)
    // aedes closed the emitter; the persistence connection is ours to close.
    await this.backends?.close()
    this.backends = undefined
    this.online.clear()
    this.connections.clear()
  }

  /**
   * Clustered: publish (retained store, offline queues of persistent sessions, Redis pub/sub)
   * before the PUBACK. aedes 1.2 writes a QoS 1 PUBACK first and publishes after it
   * (lib/handlers/publish.js enqueuePublish), so an instance killed in between would lose a
   * message its device was told was delivered. Done here, the PUBACK means "in Redis"; the
   * packet is then marked consumed so aedes does not publish it a second time.
   */
  private handToCluster(client: Client, packet: object, done: (error?: Error | null) => void): void {
    const fanOut = this.fanOut
    if (!fanOut) {
      done(new Error('broker is not started'))
      return
    }
    let settled = false
    const timer = setTimeout(() => {
      settled = true
      done(new Error('cluster publish timed out: not acknowledged, the client resends'))
    }, defaultOptions.clusterPublishTimeoutMs)
    fanOut(packet, client, (err) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      if (!err) this.consumed.add(packet)
      done(err ?? null)
    })
  }

  stats(): BrokerStats {
    return {
      refused: { ...this.refused },
      clientErrors: this.clientErrors,
      connectedClients: this.aedes?.connectedClients ?? 0,
    }
  }

  /**
   * Publishes a JSON error to the device's errors topic (QoS 1, not retained): what ingest
   * rejected and why. Never rejects (callers fire and forget); a failure is logged once per device.
   */
  publishError(device: Device, error: object): Promise<void> {
    return this.publish(topics.errors(device.village, device.id), JSON.stringify(error), false).catch(
      (err) => {
        if (this.once.first(`errors|${device.id}`))
          log.warn({ device: device.id, err }, 'error report not published')
      },
    )
  }

  private publish(topic: string, payload: string, retain: boolean): Promise<void> {
    const aedes = this.aedes
    if (!aedes) return Promise.reject(new Error('broker is not started'))
    return new Promise((resolve, reject) => {
      aedes.publish(
        { cmd: 'publish', topic, payload: Buffer.from(payload), qos: 1, retain, dup: false },
        (err) => (err ? reject(err) : resolve()),
      )
    })
  }

  /** Counts a refusal; logs it once per device and cause (and topic, for topic refusals). */
  private refuse(
    cause: RefusalCause,
    who: string,
    detail: string,
    extra: { topic?: string; [key: string]: unknown } = {},
  ): void {
    this.refused[cause]++
    this.opts.onRefused?.(cause)
    if (this.once.first(`${who}|${cause}|${extra.topic ?? ''}`)) {
      log.warn({ device: who, cause, ...extra }, `refused: ${detail} (logged once per device and cause)`)
    }
  }

  private async authenticate(client: Client, username?: string, password?: Buffer): Promise<void> {
    if (!username || !password) {
      this.refuse('bad_credentials', username || client.id, 'no username or password')
      throw connackError(4, 'bad user name or password')
    }
    // Failure budgets per address and id, equal-time refusals: src/registry/auth-limits.ts.
    const address = (client.conn as Partial<Socket>).remoteAddress ?? 'unknown'
    let result: DeviceAuthResult
    try {
      result = await this.opts.registry.authenticateDevice(username, password.toString('utf8'), address)
    } catch (err) {
      this.refuse('auth_unavailable', username, 'registry failed', { err })
      throw connackError(3, 'server unavailable')
    }
    if (!result.ok && result.reason === 'throttled') {
      this.refuse('auth_throttled', address, 'too many failed authentications', { device: username })
      throw connackError(3, 'server unavailable')
    }
    if (!result.ok) {
      this.refuse('bad_credentials', username, 'unknown device or wrong secret')
      throw connackError(4, 'bad user name or password')
    }
    const device = result.device
    if (!clientIdBelongsTo(client.id, device.id)) {
      this.refuse('client_id_mismatch', device.id, `client id "${client.id}" is not "${device.id}[-:]…"`)
      throw connackError(2, 'identifier rejected')
    }
    const willTopic = this.willTopics.get(client)
    if (!willAllowed(device, willTopic)) {
      this.refuse('will_not_allowed', device.id, `will topic "${willTopic}" is not its own status topic`)
      throw connackError(5, 'not authorized')
    }
    // Service accounts (ingest and state workers, the CLI) share one credential across workers.
    if (device.kind !== 'service' && !this.connections.admit(device.id, client)) {
      this.refuse('device_connection_cap', device.id, `over ${this.opts.maxConnectionsPerDevice} connections`)
      throw connackError(3, 'server unavailable')
    }
    this.principals.set(client, device)
  }

  /**
   * Resolving lets aedes go on; rejecting drops the client without acknowledgement
   * ([MQTT-3.3.5-2]: 3.1.1 has no negative PUBACK).
   *
   * Ordering, verified in aedes 1.2.0 lib/handlers/publish.js: handlePublish runs
   * `runSeries(client, [authorizePublish, enqueuePublish], …)`, and only enqueuePublish writes the
   * QoS 1 PUBACK (then calls broker.publish). So the PUBACK leaves only after this promise
   * resolves: awaiting onUplink here makes "acknowledged only once durable" true for in-process
   * ingest. aedes also calls this for a client's will (client.js close → finish) and, with
   * client null, for wills left over from before a restart (aedes.js _clearWills).
   */
  /**
   * The ACL for one publish: throws the refusal, returns the device and payload of an uplink
   * (`kampung/<village>/<device>/up` of the publishing device), undefined for other allowed topics.
   */
  private checkPublish(
    client: Client | null,
    topic: string,
    payload: Buffer | string,
  ): { device: Device; bytes: Buffer } | undefined {
    if (!client) {
      // A stale will from a previous run: only a registered device's own status topic.
      const parsed = parseDeviceTopic(topic)
      const device = parsed && this.opts.registry.getDevice(parsed.device)
      if (parsed?.leaf === 'status' && device?.village === parsed.village) return undefined
      throw new Error(`stale will on ${topic} refused`)
    }
    const principal = this.principals.get(client)
    if (!principal) throw new Error('publish from an unauthenticated client')
    const bytes = typeof payload === 'string' ? Buffer.from(payload) : payload
    if (bytes.length > this.opts.maxPayloadBytes) {
      this.refuse('payload_too_large', principal.id, `payload over ${this.opts.maxPayloadBytes} bytes`, {
        topic,
        bytes: bytes.length,
      })
      throw new AclRefusal(`payload of ${bytes.length} bytes exceeds ${this.opts.maxPayloadBytes}`)
    }
    const kind = classifyPublish(principal, topic)
    if (kind === 'refused') {
      this.refuse('publish_topic', principal.id, `publish to ${topic}`, { topic })
      throw new AclRefusal(`${principal.id} may not publish to ${topic}`)
    }
    // A will is published after the client started closing; the own-status check above passed.
    if (client.closed) this.willPublished.add(client)
    return kind === 'uplink' ? { device: principal, bytes } : undefined
  }

  private authorizeSubscribe(client: Client, topicFilter: string): boolean {
    const principal = this.principals.get(client)
    if (principal && canSubscribe(principal, topicFilter)) return true
    this.refuse('subscribe_topic', principal?.id ?? client.id, `subscribe to ${topicFilter}`, {
      topic: topicFilter,
    })
    return false
  }

  private onClientReady(client: Client): void {
    const principal = this.principals.get(client)
    if (!principal) return
    const clients = this.online.get(principal.id) ?? new Set()
    clients.add(client)
    this.online.set(principal.id, clients)
    this.publishStatus(principal, 'online')
  }

  private onClientDisconnect(client: Client): void {
    const principal = this.principals.get(client)
    if (!principal) return
    const clients = this.online.get(principal.id)
    clients?.delete(client)
    // Still online through another connection (e.g. `gw-01-a` and `gw-01-b`).
    if (clients && clients.size > 0) return
    this.online.delete(principal.id)
    // The device's own will just went to its status topic: keep its words, not ours.
    if (this.willPublished.has(client)) return
    this.publishStatus(principal, 'offline')
  }

  private fastPathOff(reason: string): void {
    if (!this.fastPath) return
    this.fastPath = false
    log.warn(
      { reason },
      'PUBLISH fast path not installed: mqtt-packet parses every packet (more CPU per message); see broker/README.md',
    )
  }

  private publishStatus(device: Device, state: 'online' | 'offline'): void {
    if (!this.aedes) return
    const topic = topics.status(device.village, device.id)
    this.publish(topic, statusMessage(state, Date.now()), true).catch((err) => {
      if (this.once.first(`status|${device.id}`))
        log.warn({ device: device.id, err }, 'status publish failed')
    })
  }

  private onClientError(client: Client, err: Error): void {
    const who = client.id ?? this.remotes.get(client) ?? 'unknown'
    if (err instanceof PacketTooLargeError) {
      this.refuse('packet_too_large', who, err.message)
      return
    }
    // Refusals were counted and logged where they were decided.
    if (err instanceof AclRefusal || (err as Partial<AuthenticateError>).returnCode !== undefined) return
    this.countClientError(`${who}|${err.message}`, err, { client: client.id })
  }

  private countClientError(key: string, err: Error, extra: object = {}): void {
    this.clientErrors++
    if (this.once.first(`error|${key}`)) log.info({ ...extra, err: err.message }, 'client dropped')
  }
}

function listen<S extends Server>(server: S, port: number, host: string): Promise<S> {
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      const hint =
        err.code === 'EADDRINUSE'
          ? ' (another broker is running there: stop it or set broker.port / KAMPUNG_MQTT_PORT)'
          : err.code === 'EACCES'
            ? ' (ports below 1024 need privileges)'
            : ''
      reject(
        new Error(`MQTT broker could not listen on ${host}:${port}: ${err.message}${hint}`, { cause: err }),
      )
    })
    server.listen(port, host, () => {
      server.removeAllListeners('error')
      resolve(server)
    })
  })
}
