import { readFileSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { type AddressInfo, createServer, type Server, type Socket } from 'node:net'
import { createServer as createTlsServer } from 'node:tls'
import { Aedes, type AedesOptions, type AuthenticateError, type Client } from 'aedes'
import { getLogger } from '../src/log.ts'
import type { Device, DeviceAuthResult, Registry } from '../src/registry/index.ts'
import { isStatusTopic, parseDeviceTopic, statusMessage, topics } from '../src/telemetry/index.ts'
import {
  CLIENT_ID_SEPARATOR,
  canSubscribe,
  classifyPublish,
  clientIdVerdict,
  type RefusalCause,
  willAllowed,
} from './acl.ts'
import { type BrokerClusterOptions, type ClusterBackends, clusterDefaults, redisBackends } from './cluster.ts'
import { DeviceConnections } from './device-connections.ts'
import { guardSocket, PacketTooLargeError, PartialPacketTimeoutError } from './frame-guard.ts'
import { type AckSocket, PubackWriter } from './puback-writer.ts'
import {
  fastPathProblem,
  installedVersions,
  installPublishFastPath,
  type MqttPacketParser,
  type PublishTaker,
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
  /** Sockets held at once (plain and TLS); clamped below the process's open-file limit. */
  maxConnections: number
  /**
   * The listen backlog: connections the kernel completes and queues until the broker accepts
   * them (Linux caps it at net.core.somaxconn, 4 096 by default). 0: as many as maxConnections.
   */
  listenBacklog: number
  /** Sockets held at once from one remote address. */
  maxConnectionsPerAddress: number
  /** Addresses the per-address cap does not apply to (the host itself). */
  unlimitedAddresses: string[]
  /** Largest CONNECT packet (remaining length): what a socket can make the broker buffer unauthenticated. */
  maxConnectBytes: number
  /** A packet started must be complete within this time (whatever the client's keepalive). */
  partialPacketTimeoutMs: number
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
   * A device's answer on its own `…/ack` topic, before its PUBACK: throwing withholds the PUBACK
   * (the device resends). The commands service (src/commands).
   */
  onAck?: (device: Device, payload: Buffer) => void
  /** A device subscribed to its own `…/down` topic: it can receive commands from now on. */
  onDownSubscribed?: (device: Device) => void
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
  /**
   * A socket that never completes its CONNECT holds a file descriptor and a parser; aedes'
   * default is 30 s. A CONNECT is under 200 bytes: even over GPRS with a TLS handshake before it
   * (also held to this time) it arrives within a few seconds.
   */
  connectTimeoutMs: 10_000,
  /**
   * Every socket is a file descriptor; past the process's limit nothing can be opened (not
   * /health, not the store). A district is ~10 000 devices (bench/district.ts); the effective cap
   * also leaves FD_RESERVE descriptors (or half, under a small `ulimit -n`) to HTTP, the store and
   * InfluxDB. When full, the oldest socket that has not yet sent its CONNECT is closed to make
   * room, so a flood of idle sockets cannot lock devices out.
   */
  maxConnections: 15_000,
  /**
   * After a restart every node reconnects within a second or two. Node's default backlog (511)
   * overflows then: the kernel drops the SYNs (or the handshake's last ACK) beyond it, and each
   * of those nodes' TCP stacks tries again only after 1, 3, 7, 15 s: in the district bench 9 357
   * of 10 000 nodes waited over a second for their handshake, up to 11 s, and some went without
   * CONNACK for 30 s (bench/README.md). 0 sizes the queue to hold every socket the broker may
   * hold; the kernel clamps it to net.core.somaxconn (raise that for a district, see README).
   */
  listenBacklog: 0,
  /**
   * A village gateway holds one connection per node plus its own (a few hundred); several
   * villages may share one carrier-grade NAT address.
   */
  maxConnectionsPerAddress: 1_000,
  /**
   * The host itself: a TLS-terminating proxy in front of the broker, the operator's workers and
   * benchmarks connect from here, all devices through one address. Other loopback addresses
   * (127.0.0.2, …) are capped like any.
   */
  unlimitedAddresses: ['127.0.0.1', '::1', '::ffff:127.0.0.1'],
  /**
   * A device's CONNECT is its id, secret and perhaps a status will: well under 1 KiB. Bounds what
   * an unauthenticated socket holds (2 000 partial CONNECTs: 8 MiB at most, not 147 MB).
   */
  maxConnectBytes: 4 * 1024,
  /**
   * A 64 KiB packet over GPRS (~4 KB/s) takes ~16 s. Without a deadline a keepalive-0 client could
   * hold a partial packet (and its buffer) forever.
   */
  partialPacketTimeoutMs: 30_000,
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
  /** Sockets held (plain and TLS, CONNECT sent or not). */
  openSockets: number
  /** The total cap in force: maxConnections, clamped to the open-file limit at start. */
  maxConnections: number
  /** Devices with at least one live connection (whose retained status is `online`). */
  onlineDevices: number
  /** Publishes to a status topic by a client (acknowledged and dropped: the broker writes status). */
  statusIgnored: number
}

/** aedes 1.2.0 Client internals takeUplink keeps in step (lib/client.js, handlers/index.js). */
interface AedesClientInternals {
  connackSent: boolean
  _parsingBatch: number
  _keepaliveInterval: number
  _keepaliveTimer: NodeJS.Timeout | null
  _nextBatch: (err: Error | null) => void
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
  /** The guarded stream aedes sees has no address; keep it for logs. */
  private readonly remotes = new WeakMap<Client, string>()
  /** Connected clients per device; a device is online while it has one. */
  private readonly online = new Map<string, Set<Client>>()
  /** Clients whose disconnect was handled: a late clientReady must not bring them back. */
  private readonly gone = new WeakSet<Client>()
  /** Per device, a status write in flight and whether the state changed while it was. */
  private readonly statusWrites = new Map<string, { again: boolean }>()
  private statusIgnored = 0
  /** Admitted sockets (raw TCP, also under TLS) by `address|port`, before release. */
  private readonly sockets = new Map<string, Socket>()
  /** Sockets that have not sent a complete CONNECT yet, oldest first (the ones shed when full). */
  private readonly preConnect = new Map<string, Socket>()
  private readonly perAddress = new Map<string, number>()
  /** maxConnections clamped to the process's open-file limit at start. */
  private connectionCap = 0
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
        'connection_limit',
        'partial_packet_timeout',
      ] as const
    ).map((cause) => [cause, 0]),
  ) as Record<RefusalCause, number>
  private clientErrors = 0
  /** The PUBLISH fast path goes on every client's parser; off (said once) when it cannot. */
  private fastPath = false
  /**
   * Uplinks' PUBACKs written by the PubackWriter rather than by aedes (with the aedes release the
   * fast path was written for, whose QoS 0 path writes no acknowledgement).
   */
  private ownPubacks = false
  private readonly pubacks = new PubackWriter()
  /**
   * The stored uplink (acknowledged as QoS 0, see authorizePublish) whose done() is running: aedes
   * calls its publish from inside that call, so one slot marks it, without a WeakSet entry (an
   * ephemeron for the garbage collector) per message.
   */
  private consumedNow: object | undefined
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
    this.ownPubacks = this.fastPath
    this.connectionCap = connectionCap(this.opts.maxConnections)
    const aedesOptions: AedesOptions = {
      connectTimeout: this.opts.connectTimeoutMs,
      preConnect: (client, packet, done) => {
        // No longer one of the idle sockets shed when the broker is full.
        const key = this.remotes.get(client)
        if (key) this.preConnect.delete(key)
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
        let uplink: { device: Device; bytes: Buffer } | 'status' | undefined
        try {
          uplink = this.checkPublish(client, packet)
        } catch (err) {
          return done(err as Error)
        }
        if (uplink === 'status') {
          // Acknowledged, never stored or forwarded: the broker alone writes `…/status`.
          this.consumed.add(packet)
          return done(null)
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
        // One closure per message, handed to onUplink as its done.
        const finish = (err?: unknown) => {
          if (settled) return
          settled = true
          if (err === undefined || err === null) {
            if (this.opts.forwardUplinks) return done(null)
            const conn = client?.conn as (Socket & AckSocket) | undefined
            if (!this.ownPubacks || packet.qos !== 1 || packet.messageId === undefined || !conn) {
              this.consumed.add(packet)
              return done(null)
            }
            // The PUBACK goes out through the PubackWriter; as QoS 0, aedes writes none of its own
            // and calls its publish at once, from done(), which ends there (consumedNow).
            this.pubacks.add(conn, packet.messageId)
            packet.qos = 0
            // Backpressure as aedes' own write has it: a socket whose buffer is full is not read
            // again until it drains (aedes emits 'drain' itself when it closes the client).
            if (conn.writableNeedDrain) {
              conn.once('drain', () => this.consumedDone(packet, done))
              return
            }
            return this.consumedDone(packet, done)
          }
          this.refuse('uplink_failed', device.id, 'onUplink rejected', { err })
          done(new AclRefusal('onUplink rejected: not acknowledged', { cause: err }))
        }
        try {
          onUplink(device, packet.topic, bytes, finish)
        } catch (err) {
          finish(err ?? new Error('onUplink threw'))
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
      if (packet === this.consumedNow) {
        this.consumedNow = undefined
        return (typeof client === 'function' ? (client as Done) : done)?.(null)
      }
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
    const onDownSubscribed = this.opts.onDownSubscribed
    if (onDownSubscribed) {
      // After aedes stored the subscription: a command published now reaches the device.
      aedes.on('subscribe', (subscriptions, client) => {
        const principal = client && this.principals.get(client)
        if (!principal || principal.kind === 'service') return
        const down = topics.down(principal.village, principal.id)
        if (subscriptions.some((s) => s.topic === down || s.topic === `${down}/#`))
          onDownSubscribed(principal)
      })
    }
    aedes.on('clientReady', (client) => this.onClientReady(client))
    aedes.on('clientDisconnect', (client) => this.onClientDisconnect(client))
    aedes.on('clientError', (client, err) => this.onClientError(client, err))
    aedes.on('connectionError', (client, err) => this.onClientError(client, err))

    const limits = {
      maxRemainingBytes: this.opts.maxPayloadBytes + PACKET_OVERHEAD_BYTES,
      maxConnectBytes: this.opts.maxConnectBytes,
      partialPacketTimeoutMs: this.opts.partialPacketTimeoutMs,
    }
    const handle = (socket: Socket) => {
      socket.on('error', () => {}) // reported through aedes' clientError; never an uncaught error
      // Over a cap (see admit) the socket is already closed.
      if (socket.destroyed) return
      const client = aedes.handle(guardSocket(socket, limits))
      if (this.fastPath) {
        // aedes' private parser (1.2.0); without one (another aedes), mqtt-packet alone parses.
        const parser = (client as unknown as { _parser?: MqttPacketParser })._parser
        const take: PublishTaker | undefined = this.takesUplinks()
          ? (topic, payload, qos, messageId) => this.takeUplink(client, topic, payload, qos, messageId)
          : undefined
        if (!installPublishFastPath(parser, take))
          this.fastPathOff("aedes' client has no mqtt-packet parser with the internals it reads")
      }
      if (socket.remoteAddress) this.remotes.set(client, socketKey(socket))
    }
    // Caps are applied on the raw TCP socket, before aedes (or a TLS handshake) spends anything.
    const admit = (socket: Socket) => this.admit(socket)
    const backlog = this.opts.listenBacklog || this.connectionCap
    try {
      const plain = createServer(handle)
      plain.prependListener('connection', admit)
      this.servers.push(await listen(plain, this.opts.port, this.opts.host, backlog))
      const tls = this.opts.tls
      if (tls) {
        const [key, cert] = await Promise.all([readFile(tls.keyPath), readFile(tls.certPath)])
        const server = createTlsServer({ key, cert, handshakeTimeout: this.opts.connectTimeoutMs }, handle)
        server.prependListener('connection', admit)
        server.on('tlsClientError', (err) => this.countClientError(`tls|${err.message}`, err))
        this.servers.push(await listen(server, tls.port, this.opts.host, backlog))
      }
    } catch (err) {
      await this.stop()
      throw err
    }
    log.info(
      {
        port: this.port,
        tlsPort: this.tlsPort,
        host: this.opts.host,
        maxConnections: this.connectionCap,
        maxConnectionsPerAddress: this.opts.maxConnectionsPerAddress,
        listenBacklog: effectiveBacklog(backlog),
      },
      'broker listening',
    )
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
    this.statusWrites.clear()
    this.connections.clear()
  }

  /**
   * The total and per-address connection caps, on every accepted TCP socket (plain or TLS). Over
   * the per-address cap, or with the broker full and no idle socket to shed, the newcomer is
   * closed at once: its file descriptor is back before the next accept.
   */
  private admit(socket: Socket): void {
    const address = socket.remoteAddress
    // Reset before it was accepted: nothing to count, and no key to count it under.
    if (address === undefined) {
      socket.destroy()
      return
    }
    // An address that spent its authentication failure budget gets nothing until it regains some:
    // each of its CONNECTs would be refused unchecked anyway, so aedes need not set one up.
    if (this.opts.registry.deviceAddressThrottled(address)) {
      this.refuse(
        'auth_throttled',
        address,
        'address over its authentication failure budget: socket closed at once',
      )
      socket.destroy()
      return
    }
    const key = socketKey(socket)
    const fromAddress = this.perAddress.get(address) ?? 0
    if (
      fromAddress >= this.opts.maxConnectionsPerAddress &&
      !this.opts.unlimitedAddresses.includes(address)
    ) {
      this.refuse(
        'connection_limit',
        address,
        `over ${this.opts.maxConnectionsPerAddress} connections from one address`,
      )
      socket.destroy()
      return
    }
    if (this.sockets.size >= this.connectionCap) {
      const [idleKey, idle] = this.preConnect.entries().next().value ?? []
      this.refuse('connection_limit', address, `broker full (${this.connectionCap} connections)`)
      if (!idle || idleKey === undefined) {
        socket.destroy()
        return
      }
      // The oldest socket still without a CONNECT makes room for the newcomer.
      this.release(idleKey, idle)
      idle.destroy()
    }
    this.sockets.set(key, socket)
    this.preConnect.set(key, socket)
    this.perAddress.set(address, fromAddress + 1)
    socket.once('close', () => this.release(key, socket))
  }

  private release(key: string, socket: Socket): void {
    if (this.sockets.get(key) !== socket) return
    this.sockets.delete(key)
    this.preConnect.delete(key)
    const address = socket.remoteAddress ?? ''
    const left = (this.perAddress.get(address) ?? 1) - 1
    if (left > 0) this.perAddress.set(address, left)
    else this.perAddress.delete(address)
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

  /** Whether whole QoS 1 uplinks are taken from the fast path before aedes sees them (takeUplink). */
  private takesUplinks(): boolean {
    return this.ownPubacks && this.opts.onUplink !== undefined && !this.opts.forwardUplinks
  }

  /**
   * A QoS 1 PUBLISH on the device's own `…/up` topic, read whole by the fast path, goes straight to
   * onUplink without aedes (its handler chain, the per-message closures of runSeries, its publish):
   * it is a message aedes would only have handed to authorizePublish and then dropped as consumed.
   * aedes' own bookkeeping is kept (aedes 1.2.0 lib/client.js `enqueue` and handlers/index.js
   * `handle`): `_parsingBatch` counts the packet, so the next socket chunk is read only once it is
   * settled, as aedes does; the keep-alive timer is refreshed; settling calls `_nextBatch`, with
   * the error that drops the client when the message was not stored. The PUBACK goes out through
   * the PubackWriter only after onUplink called back. Anything else (another topic, QoS 0 or 2,
   * before CONNACK, a payload over the limit) returns false and goes to aedes and authorizePublish.
   */
  private takeUplink(
    client: Client,
    topic: string,
    payload: Buffer,
    qos: number,
    messageId: number | undefined,
  ): boolean {
    const onUplink = this.opts.onUplink
    const internals = client as unknown as AedesClientInternals
    if (qos !== 1 || messageId === undefined || onUplink === undefined) return false
    if (!internals.connackSent || client.closed || payload.length > this.opts.maxPayloadBytes) return false
    const principal = this.principals.get(client)
    if (principal === undefined || classifyPublish(principal, topic) !== 'uplink') return false
    const conn = client.conn as Socket & AckSocket
    internals._parsingBatch++
    if (internals._keepaliveInterval > 0) internals._keepaliveTimer?.refresh()
    let settled = false
    const finish = (err?: unknown) => {
      if (settled) return
      settled = true
      if (err !== undefined && err !== null) {
        this.refuse('uplink_failed', principal.id, 'onUplink rejected', { err })
        return internals._nextBatch(new AclRefusal('onUplink rejected: not acknowledged', { cause: err }))
      }
      this.pubacks.add(conn, messageId)
      // Backpressure as aedes' own write has it (see authorizePublish).
      if (conn.writableNeedDrain) conn.once('drain', () => internals._nextBatch(null))
      else internals._nextBatch(null)
    }
    try {
      onUplink(principal, topic, payload, finish)
    } catch (err) {
      finish(err ?? new Error('onUplink threw'))
    }
    return true
  }

  /** Lets aedes go on with a stored uplink whose PUBACK the PubackWriter has: its publish ends at once. */
  private consumedDone(packet: object, done: (error?: Error | null) => void): void {
    this.consumedNow = packet
    try {
      done(null)
    } finally {
      this.consumedNow = undefined
    }
  }

  stats(): BrokerStats {
    return {
      refused: { ...this.refused },
      clientErrors: this.clientErrors,
      connectedClients: this.aedes?.connectedClients ?? 0,
      openSockets: this.sockets.size,
      maxConnections: this.connectionCap,
      onlineDevices: this.online.size,
      statusIgnored: this.statusIgnored,
    }
  }

  /** Ids of the devices with a live connection (the console map's online state). */
  onlineDeviceIds(): string[] {
    return [...this.online.keys()]
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

  /** A command on the device's down topic (QoS 1, not retained); resolves once the broker has it. */
  publishDown(device: Device, payload: string): Promise<void> {
    return this.publish(topics.down(device.village, device.id), payload, false)
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
    this.checkClientId(client.id, device)
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
    packet: { topic: string; payload: Buffer | string; retain?: boolean },
  ): { device: Device; bytes: Buffer } | 'status' | undefined {
    const topic = packet.topic
    if (!client) {
      // A will left by a broker instance that died (clustered): only for a registered device's own
      // status topic, and in the broker's words, as its own `offline` would have been.
      const parsed = parseDeviceTopic(topic)
      const device = parsed && this.opts.registry.getDevice(parsed.device)
      if (parsed?.leaf === 'status' && device?.village === parsed.village) {
        packet.payload = Buffer.from(statusMessage('offline', Date.now()))
        packet.retain = true
        return undefined
      }
      throw new Error(`stale will on ${topic} refused`)
    }
    const principal = this.principals.get(client)
    if (!principal) throw new Error('publish from an unauthenticated client')
    const payload = packet.payload
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
    if (kind === 'status') {
      // A will (published while the client closes) is not published at all: the broker writes
      // `offline` itself once the device's last connection is gone (onClientDisconnect).
      if (client.closed) throw new AclRefusal('a will on a status topic: the broker writes the status')
      this.statusIgnored++
      if (this.once.first(`${principal.id}|status_ignored`))
        log.info(
          { device: principal.id, topic },
          'status publish from a client acknowledged and dropped: the broker alone writes …/status (logged once per device)',
        )
      return 'status'
    }
    if (kind === 'allowed' && this.opts.onAck && principal.kind !== 'service' && topic.endsWith('/ack')) {
      try {
        this.opts.onAck(principal, bytes)
      } catch (err) {
        throw new AclRefusal('command ack not recorded: not acknowledged', { cause: err })
      }
    }
    return kind === 'uplink' ? { device: principal, bytes } : undefined
  }

  /** Refuses (CONNACK 2) a client id that does not name the device without doubt (acl.ts). */
  private checkClientId(clientId: string, device: Device): void {
    const verdict = clientIdVerdict(clientId, device, (id) => this.opts.registry.getDevice(id) !== undefined)
    if (verdict === 'own') return
    const suffix = clientId.slice(device.id.length + 1)
    this.refuse(
      'client_id_mismatch',
      device.id,
      verdict === 'legacy_separator'
        ? `client id "${clientId}" continues the device id with "-", which ids may contain; connect as "${device.id}${CLIENT_ID_SEPARATOR}${suffix}"`
        : `client id "${clientId}" is not "${device.id}" or "${device.id}${CLIENT_ID_SEPARATOR}…"`,
    )
    throw connackError(2, 'identifier rejected')
  }

  private authorizeSubscribe(client: Client, topicFilter: string): boolean {
    const principal = this.principals.get(client)
    if (principal && canSubscribe(principal, topicFilter)) return true
    this.refuse('subscribe_topic', principal?.id ?? client.id, `subscribe to ${topicFilter}`, {
      topic: topicFilter,
    })
    return false
  }

  /**
   * Connect, ready and disconnect can come in any order: aedes emits clientReady after the
   * CONNACK and the session's queue are written, and a client that closes in between has its
   * disconnect handled first. Such a client is not counted online; the retained status is then
   * written from the set of live connections, not from the event that happened last.
   */
  private onClientReady(client: Client): void {
    const principal = this.principals.get(client)
    if (!principal || client.closed || this.gone.has(client)) return
    const clients = this.online.get(principal.id) ?? new Set()
    clients.add(client)
    this.online.set(principal.id, clients)
    this.syncStatus(principal)
  }

  private onClientDisconnect(client: Client): void {
    this.gone.add(client)
    const principal = this.principals.get(client)
    if (!principal) return
    const clients = this.online.get(principal.id)
    // Still online through another connection (e.g. `gw-01:a` and `gw-01:b`).
    if (!clients?.delete(client) || clients.size > 0) return
    this.online.delete(principal.id)
    this.syncStatus(principal)
  }

  private fastPathOff(reason: string): void {
    if (!this.fastPath) return
    this.fastPath = false
    log.warn(
      { reason },
      'PUBLISH fast path not installed: mqtt-packet parses every packet (more CPU per message); see broker/README.md',
    )
  }

  /**
   * Writes the device's retained status from its live connections. One write per device at a
   * time: a change while one is in flight writes again after it, so the retained message always
   * ends as the last state, whatever order aedes finishes the publishes in.
   */
  private syncStatus(device: Device): void {
    const inFlight = this.statusWrites.get(device.id)
    if (inFlight) {
      inFlight.again = true
      return
    }
    if (!this.aedes) return
    const write = { again: false }
    this.statusWrites.set(device.id, write)
    const state = this.online.has(device.id) ? 'online' : 'offline'
    this.publish(topics.status(device.village, device.id), statusMessage(state, Date.now()), true)
      .catch((err) => {
        if (this.once.first(`status|${device.id}`))
          log.warn({ device: device.id, err }, 'status publish failed')
      })
      .finally(() => {
        if (this.statusWrites.get(device.id) !== write) return
        this.statusWrites.delete(device.id)
        if (write.again) this.syncStatus(device)
      })
  }

  private onClientError(client: Client, err: Error): void {
    const who = client.id ?? this.remotes.get(client) ?? 'unknown'
    if (err instanceof PacketTooLargeError) {
      this.refuse('packet_too_large', who, err.message)
      return
    }
    if (err instanceof PartialPacketTimeoutError) {
      this.refuse('partial_packet_timeout', who, err.message)
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

function listen<S extends Server>(server: S, port: number, host: string, backlog: number): Promise<S> {
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
    server.listen({ port, host, backlog }, () => {
      server.removeAllListeners('error')
      resolve(server)
    })
  })
}

/** One connection's key: the raw socket and, under TLS, the TLS socket on it share it. */
function socketKey(socket: Socket): string {
  return `${socket.remoteAddress}|${socket.remotePort}`
}

/** The process's soft open-file limit (Linux `/proc/self/limits`), or undefined where unknown. */
function openFileLimit(): number | undefined {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'))
    const soft = Number(line?.split(/\s+/)[3])
    return Number.isSafeInteger(soft) && soft > 0 ? soft : undefined
  } catch {
    return undefined
  }
}

/**
 * The backlog the kernel grants (Linux: at most net.core.somaxconn). Said once at start when it
 * is well below what was asked: a reconnect storm then waits on TCP's SYN retries.
 */
function effectiveBacklog(asked: number): number {
  let somaxconn: number | undefined
  try {
    somaxconn = Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8').trim())
  } catch {
    return asked
  }
  if (!Number.isSafeInteger(somaxconn) || somaxconn >= asked) return asked
  if (somaxconn < Math.min(asked, 4096))
    log.warn(
      { listenBacklog: asked, somaxconn },
      'net.core.somaxconn caps the MQTT listen backlog: a reconnect storm of many nodes will wait on TCP retries (sysctl net.core.somaxconn)',
    )
  return somaxconn
}

/** Open files kept for everything but MQTT sockets: HTTP clients, SQLite, the spool, InfluxDB. */
const FD_RESERVE = 2048

/** maxConnections, leaving FD_RESERVE open files (or half of them, under a small limit). */
function connectionCap(maxConnections: number): number {
  const limit = openFileLimit()
  if (limit === undefined) return maxConnections
  const room = Math.max(Math.floor(limit / 2), limit - FD_RESERVE)
  if (maxConnections <= room) return maxConnections
  log.warn(
    { maxConnections, openFileLimit: limit, cap: room },
    'broker.maxConnections leaves too few open files for the rest of the service (ulimit -n): capped',
  )
  return room
}
