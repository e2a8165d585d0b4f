/**
 * One load-generator process of the district benchmark (bench/district.ts forks several: the
 * process fd limit is 20 000 and the service's CPU must be measured apart from theirs). It holds
 * its share of the district's device connections open for the whole run and obeys the parent's
 * commands over IPC:
 *
 * - `connect`: every device connects (CONNECT with its own id and secret, keep-alive), resolves
 *   when all have their CONNACK; a connection refused, closed, or without CONNACK after
 *   `connackTimeoutMs` is tried again after `retryMs` ± half, as a node's firmware would;
 * - `prepare` + `go`: a phase of reports (each device's reports 60 s apart in device time, encoded
 *   before the clock starts), either as fast as the service acknowledges them (a window of
 *   unacknowledged reports per device) or paced at a rate;
 * - keep-alive: a device that has sent nothing for 90 % of its keep-alive sends PINGREQ (this is all
 *   that happens while the district is idle);
 * - `storm`: after the service's restart every device reconnects on its own (every
 *   `retryMs` ± half, while refused) and publishes one report as soon as it has its CONNACK; the
 *   answer comes when every device's report is acknowledged (stored);
 * - `dump`: every node not done (see NodeDump: reports in flight with their message ids and when
 *   sent, the last packet received, socket counters, PUBACKs for ids not in flight);
 * - `stop`: DISCONNECT everything and exit.
 *
 * A connection the service drops is reconnected, and what was in flight is sent again once the
 * CONNACK is in, but only while a phase (or the storm) counts PUBACKs: a node back between
 * `prepare` and `go` waits for `go`. A PUBACK is counted only for a message id in flight (a
 * duplicate is recorded in the dump). A `connect`, phase or storm that sees no progress for
 * `stallMs` fails with a StallError carrying the dump: a stuck bench ends with a report, never
 * waits forever.
 *
 * Like bench/load-client.ts it reads the broker's few packet kinds by hand (CONNACK, PUBACK,
 * PINGRESP) and writes pre-encoded PUBLISH packets, so it costs little next to the service.
 */
import net from 'node:net'
import mqttPacket from 'mqtt-packet'
import { type LoadDevice, report } from './load-client.ts'
import { wallClockOrigin } from './proc-stats.ts'

export interface ClientInit {
  port: number
  devices: LoadDevice[]
  keepaliveS: number
  /** Reconnect delay while the service is down: uniform in [retryMs / 2, retryMs * 1.5). */
  retryMs: number
  /** A connection without CONNACK this long is dropped and tried again (mqtt.js's connectTimeout is 30 s). */
  connackTimeoutMs: number
  /**
   * Watchdog: a phase, storm or connect in which this process saw no progress (no PUBACK, no
   * CONNACK) for this long fails with a StallError carrying the dump, instead of waiting forever.
   * Default 60 s.
   */
  stallMs?: number
}

export interface PhaseJob {
  /** Device time of report 0 of this phase; report i is `baseTimeMs + i * 60 s`. */
  baseTimeMs: number
  reports: number
  /** Unacknowledged reports per device. */
  window: number
  /** This process's share of a paced load, reports/s; 0 = as fast as acknowledged. */
  ratePerS: number
}

export interface PhaseResult {
  messages: number
  readings: number
  firstSendMs: number
  lastAckMs: number
  latenciesMs: Float64Array
}

export interface StormResult {
  /** When the first device had its CONNACK again. */
  firstConnectedMs: number
  /** When every device had its CONNACK again. */
  allConnectedMs: number
  /** When every device's first report after the reconnect was acknowledged. */
  allStoredMs: number
  /** Connection attempts refused or closed before a CONNACK, since the storm was armed. */
  failedAttempts: number
  /** Of these, connections dropped after `connackTimeoutMs` without CONNACK. */
  connackTimeouts: number
  latenciesMs: Float64Array
}

export type Command =
  | { cmd: 'init'; init: ClientInit }
  /** Connects the next `count` nodes (all that are left without one). */
  | { cmd: 'connect'; count?: number }
  | { cmd: 'prepare'; job: PhaseJob }
  | { cmd: 'go' }
  | { cmd: 'storm'; baseTimeMs: number }
  | { cmd: 'stats' }
  /** What every node not done with the current phase (or storm) is waiting for: see NodeDump. */
  | { cmd: 'dump' }
  | { cmd: 'stop' }

const SECOND_MS = 60_000
/** In-flight slots per device: message ids are sequential, so id % RING is unique while window ≤ RING. */
const RING = 64

const CONNACK = 0x20
const PUBACK = 0x40
const PINGRESP = 0xd0
const PINGREQ = Buffer.from([0xc0, 0x00])

/** Soil readings of 22–32 % VWC (load-client's default sweeps 15–45 %). */
const wetSoil = (i: number) => 22 + (i % 100) / 10

class Node {
  socket: net.Socket | undefined
  connected = false
  /** Set by the parent's stop: a close is then expected. */
  closing = false
  nextId = 1
  lastSentMs = 0
  pending: Buffer | undefined
  readonly sentAt = new Float64Array(RING)
  /** The message id in flight in each slot (id % RING), 0 when the slot is free. */
  readonly inFlightIds = new Uint16Array(RING)
  // --- diagnostics (dump) ---
  /** Local TCP port of the current socket (`ss` finds both ends by it). */
  localPort = 0
  lastRxMs = 0
  lastRxType = ''
  /** Packets received over the run, by kind. */
  rxConnacks = 0
  rxPubacks = 0
  rxPingresps = 0
  /** PUBACKs whose message id was not in flight (a duplicate, or one for a message never sent). */
  unexpectedAcks: Array<{ id: number; atMs: number }> = []
  connects = 0
  closes = 0
  lastCloseMs = 0
  /** PUBACKs that arrived while no phase or storm counted them (see onAck). */
  uncountedAcks = 0
  /** The current phase's packets and progress. */
  packets: Buffer[] = []
  next = 0
  acked = 0
  inFlight = 0
  /** Sends a paced scheduler wanted while the window was full. */
  backlog = 0
  /** Reports sent over the whole run: the index of the next report's values and time. */
  reportIndex = 0
  onConnack: (() => void) | undefined
  onAck: ((latencyMs: number, now: number) => void) | undefined
  constructor(readonly device: LoadDevice) {}
}

const nodes: Node[] = []
let init: ClientInit

/**
 * The wall clock (ms since the epoch, as Date.now()) at performance.now()'s resolution. Times that
 * leave this process (a phase's first send and last PUBACK, the storm's) are compared with the
 * parent's and the other load processes' clocks, so all of them use Date.now()'s origin
 * (proc-stats.ts wallClockOrigin) rather than each its own `performance.timeOrigin`.
 */
const ORIGIN_MS = wallClockOrigin()
const wallNow = () => ORIGIN_MS + performance.now()

function send(node: Node, buf: Buffer, now: number): void {
  node.lastSentMs = now
  node.socket!.write(buf)
}

function connectNode(node: Node): void {
  const socket = net.connect(init.port, '127.0.0.1')
  node.socket = socket
  node.pending = undefined
  socket.setNoDelay(true)
  const startedMs = performance.now()
  /** Why this attempt failed, if it did (the first cause seen wins). */
  let failure: FailureReason | undefined
  let tcpConnected = false
  const connackTimer = setTimeout(() => {
    counts.connackTimeouts++
    failure ??= tcpConnected ? 'connack_timeout' : 'tcp_connect_timeout'
    socket.destroy()
  }, init.connackTimeoutMs)
  socket.on('connect', () => {
    tcpConnected = true
    node.localPort = socket.localPort ?? 0
    // The kernel answers SYNs in ~0.1 ms on loopback; a second or more is a SYN the listener's
    // full accept queue dropped and the client's TCP sent again (1 s, 3 s, 7 s, 15 s, …).
    const tcpMs = performance.now() - startedMs
    if (tcpMs >= 900) counts.slowTcpConnects++
    counts.maxTcpConnectMs = Math.max(counts.maxTcpConnectMs, Math.round(tcpMs))
    send(
      node,
      mqttPacket.generate({
        cmd: 'connect',
        protocolId: 'MQTT',
        protocolVersion: 4,
        clean: true,
        clientId: node.device.id,
        keepalive: init.keepaliveS,
        username: node.device.id,
        password: Buffer.from(node.device.secret),
      }),
      wallNow(),
    )
  })
  socket.on('data', (chunk: Buffer) => {
    const data = node.pending ? Buffer.concat([node.pending, chunk]) : chunk
    const now = wallNow()
    let at = 0
    // Every packet the broker sends a publishing device has a one-byte remaining length.
    while (at + 2 <= data.length) {
      const type = data[at]! & 0xf0
      const len = data[at + 1]!
      if (len > 127) throw new Error(`${node.device.id}: unexpected long packet 0x${data[at]!.toString(16)}`)
      if (at + 2 + len > data.length) break
      node.lastRxMs = now
      if (type === CONNACK) {
        node.lastRxType = 'connack'
        node.rxConnacks++
        if (data[at + 3] !== 0) {
          // Refused by the service (3: unavailable, e.g. throttled or over a cap; 4: bad
          // credentials): counted by code, and tried again like any failed attempt.
          failure ??= `connack_${data[at + 3]}` as FailureReason
          socket.destroy()
          return
        }
        clearTimeout(connackTimer)
        node.connected = true
        node.connects++
        node.onConnack?.()
        if (counting && node.next < node.packets.length) {
          // Reconnected in the middle of a phase (or the storm): send what was in flight (and
          // what the pacing held back meanwhile) again. Not between `prepare` and `go`: nothing
          // would count those PUBACKs and the phase would wait for them forever (`go` sends them).
          const window = job?.window ?? 1
          const paced = (job?.ratePerS ?? 0) !== 0
          const n = paced ? Math.min(window, node.backlog) : window
          if (paced) node.backlog -= n
          sendNext(node, n, now)
        }
      } else if (type === PUBACK) {
        node.lastRxType = 'puback'
        node.rxPubacks++
        const id = data.readUInt16BE(at + 2)
        const slot = id % RING
        if (node.inFlightIds[slot] !== id) {
          // Not a message in flight: a second PUBACK for one message, or one never sent. A client
          // ignores it (mqtt.js does); counting it would end a phase one report early.
          counts.unexpectedAcks++
          if (node.unexpectedAcks.length < 8) node.unexpectedAcks.push({ id, atMs: Math.round(now) })
        } else {
          node.inFlightIds[slot] = 0
          node.inFlight--
          node.acked++
          if (node.onAck) node.onAck(now - node.sentAt[slot]!, now)
          else node.uncountedAcks++
        }
      } else if (type === PINGRESP) {
        node.lastRxType = 'pingresp'
        node.rxPingresps++
      } else {
        throw new Error(`${node.device.id}: unexpected packet 0x${data[at]!.toString(16)}`)
      }
      at += 2 + len
    }
    node.pending = at < data.length ? data.subarray(at) : undefined
  })
  socket.on('error', (err: NodeJS.ErrnoException) => {
    // A refused or reset connection: 'close' follows and decides.
    failure ??= err.code === 'ECONNREFUSED' ? 'no_listener' : tcpConnected ? 'reset' : 'tcp_error'
  })
  socket.on('close', () => {
    clearTimeout(connackTimer)
    const wasConnected = node.connected
    node.connected = false
    node.socket = undefined
    if (node.closing) return
    if (!wasConnected) {
      counts.failedAttempts++
      const reason = failure ?? 'closed_before_connack'
      counts.byReason[reason] = (counts.byReason[reason] ?? 0) + 1
    } else {
      counts.dropped++
      node.closes++
      node.lastCloseMs = Math.round(wallNow())
    }
    // Unacknowledged reports are sent again after the reconnect (a clean session forgets them).
    node.next -= node.inFlight
    if (job?.ratePerS) node.backlog += node.inFlight
    node.inFlight = 0
    node.inFlightIds.fill(0)
    // The service went away (or is not up yet): reconnect as a node's firmware would.
    setTimeout(() => connectNode(node), init.retryMs * (0.5 + Math.random()))
  })
}

function publishPacket(node: Node, ts: number): { packet: Buffer; readings: number } {
  const r = report(node.device.kind, ts, node.reportIndex++, wetSoil)
  const messageId = node.nextId
  node.nextId = (node.nextId % 65535) + 1
  return {
    packet: mqttPacket.generate({
      cmd: 'publish',
      topic: `kampung/${node.device.village}/${node.device.id}/up`,
      payload: r.payload,
      qos: 1,
      messageId,
      retain: false,
      dup: false,
    }),
    readings: r.readings,
  }
}

/** The message id of a packet built by publishPacket (bytes after the topic). */
function packetId(packet: Buffer): number {
  // Fixed header: 1 byte + remaining length (1–4 bytes); then topic length (2) + topic; then id.
  let at = 1
  while (packet[at]! & 0x80) at++
  at++
  const topicLength = packet.readUInt16BE(at)
  return packet.readUInt16BE(at + 2 + topicLength)
}

// --- phases ---

let job: PhaseJob | undefined
let phaseReadings = 0
/** A phase or the storm is running: it counts PUBACKs (node.onAck), and reconnects resend. */
let counting = false
/** When this process last saw progress (a PUBACK or CONNACK counted), for the watchdog. */
let lastProgressMs = 0

function prepare(j: PhaseJob): void {
  if (j.window > RING) throw new Error(`window ${j.window} > ${RING}`)
  job = j
  phaseReadings = 0
  for (const node of nodes) {
    node.packets = []
    node.next = 0
    node.acked = 0
    node.inFlight = 0
    node.inFlightIds.fill(0)
    node.backlog = 0
    for (let i = 0; i < j.reports; i++) {
      const p = publishPacket(node, j.baseTimeMs + i * SECOND_MS)
      node.packets.push(p.packet)
      phaseReadings += p.readings
    }
  }
}

function sendNext(node: Node, count: number, now: number): void {
  if (!node.connected) {
    // Sent when the node has reconnected (see the CONNACK above).
    if (job?.ratePerS) node.backlog += count
    return
  }
  const from = node.next
  const to = Math.min(node.packets.length, from + count)
  if (to <= from) return
  for (let i = from; i < to; i++) {
    const id = packetId(node.packets[i]!)
    node.sentAt[id % RING] = now
    node.inFlightIds[id % RING] = id
  }
  node.inFlight += to - from
  node.next = to
  send(node, to - from === 1 ? node.packets[from]! : Buffer.concat(node.packets.slice(from, to)), now)
}

function runPhase(): Promise<PhaseResult> {
  const j = job!
  const latencies: number[] = []
  let first = 0
  let last = 0
  let done = 0
  const total = nodes.length * j.reports
  return new Promise((resolve, reject) => {
    counting = true
    lastProgressMs = wallNow()
    const stopWatchdog = watchdog(
      'phase',
      () => `${done} of ${total} PUBACKs`,
      (err) => {
        if (timer) clearInterval(timer)
        for (const node of nodes) node.onAck = undefined
        counting = false
        reject(err)
      },
    )
    const finish = () => {
      if (timer) clearInterval(timer)
      stopWatchdog()
      counting = false
      for (const node of nodes) node.onAck = undefined
      resolve({
        messages: total,
        readings: phaseReadings,
        firstSendMs: first,
        lastAckMs: last,
        latenciesMs: Float64Array.from(latencies),
      })
    }
    for (const node of nodes) {
      node.onAck = (latencyMs, now) => {
        latencies.push(latencyMs)
        last = now
        lastProgressMs = now
        if (++done === total) return finish()
        if (j.ratePerS === 0) sendNext(node, j.window - node.inFlight, now)
        else if (node.backlog > 0) {
          const n = Math.min(node.backlog, j.window - node.inFlight)
          node.backlog -= n
          sendNext(node, n, now)
        }
      }
    }
    const start = wallNow()
    first = start
    let timer: NodeJS.Timeout | undefined
    if (total === 0) return finish()
    if (j.ratePerS === 0) {
      for (const node of nodes) sendNext(node, j.window, start)
      return
    }
    // Paced: report k of node d is due at start + (k * nodes + d) / rate; sent when due, or when
    // the node's window frees if it is full then.
    let cursor = 0
    timer = setInterval(() => {
      const now = wallNow()
      const due = Math.min(total, Math.floor(((now - start) / 1000) * j.ratePerS) + 1)
      for (; cursor < due; cursor++) {
        const node = nodes[cursor % nodes.length]!
        if (node.inFlight < j.window && node.backlog === 0) sendNext(node, 1, now)
        else node.backlog++
      }
      if (cursor >= total) clearInterval(timer)
    }, 5)
  })
}

// --- watchdog and dump ---

/** What `dump` answers, and what a stalled phase's error carries (as JSON after its message). */
export interface ClientDump {
  pid: number
  atMs: number
  nodes: number
  /** A phase or storm is counting PUBACKs. */
  counting: boolean
  job: PhaseJob | undefined
  msSinceProgress: number
  counts: typeof counts
  /** Nodes connected, in flight, and not done with the current phase. */
  connected: number
  withInFlight: number
  notDone: number
  /** Nodes not done (not connected, or a report in flight or unsent), the first `DUMP_NODES`. */
  stuck: NodeDump[]
  /** Sequence numbers of the last requests this process answered. */
  answered: number[]
}

export interface NodeDump {
  id: string
  localPort: number
  connected: boolean
  socket?: {
    readyState: string
    destroyed: boolean
    bytesWritten: number
    bytesRead: number
    /** Bytes written and not yet handed to the kernel. */
    writableLength: number
    readableLength: number
    paused: boolean
  }
  /** Bytes of a partial packet kept from the last chunk. */
  partialBytes: number
  acked: number
  next: number
  packets: number
  inFlight: number
  /** Each report in flight: its index in the phase, message id, device time, when sent. */
  inFlightReports: Array<{ index: number; id: number; deviceTimeMs: number; sentMsAgo: number }>
  msSinceSent: number
  msSinceRx: number
  lastRxType: string
  rx: { connacks: number; pubacks: number; pingresps: number }
  connects: number
  closes: number
  msSinceClose?: number
  unexpectedAcks: Array<{ id: number; atMs: number }>
  uncountedAcks: number
}

const DUMP_NODES = 40

function nodeDump(node: Node, now: number): NodeDump {
  const socket = node.socket
  const inFlightReports: NodeDump['inFlightReports'] = []
  for (let i = node.next - node.inFlight; i < node.next; i++) {
    const packet = node.packets[i]
    if (!packet) continue
    const id = packetId(packet)
    inFlightReports.push({
      index: i,
      id,
      deviceTimeMs: (job?.baseTimeMs ?? 0) + i * SECOND_MS,
      sentMsAgo: Math.round(now - node.sentAt[id % RING]!),
    })
  }
  return {
    id: node.device.id,
    localPort: node.localPort,
    connected: node.connected,
    ...(socket
      ? {
          socket: {
            readyState: socket.readyState,
            destroyed: socket.destroyed,
            bytesWritten: socket.bytesWritten,
            bytesRead: socket.bytesRead,
            writableLength: socket.writableLength,
            readableLength: socket.readableLength,
            paused: socket.isPaused(),
          },
        }
      : {}),
    partialBytes: node.pending?.length ?? 0,
    acked: node.acked,
    next: node.next,
    packets: node.packets.length,
    inFlight: node.inFlight,
    inFlightReports,
    msSinceSent: Math.round(now - node.lastSentMs),
    msSinceRx: Math.round(now - node.lastRxMs),
    lastRxType: node.lastRxType,
    rx: { connacks: node.rxConnacks, pubacks: node.rxPubacks, pingresps: node.rxPingresps },
    connects: node.connects,
    closes: node.closes,
    ...(node.lastCloseMs ? { msSinceClose: Math.round(now - node.lastCloseMs) } : {}),
    unexpectedAcks: node.unexpectedAcks,
    uncountedAcks: node.uncountedAcks,
  }
}

function dump(): ClientDump {
  const now = wallNow()
  const notDone = nodes.filter(
    (n) => !n.connected || n.inFlight > 0 || (counting && n.acked < n.packets.length),
  )
  return {
    pid: process.pid,
    atMs: Math.round(now),
    nodes: nodes.length,
    counting,
    job,
    msSinceProgress: Math.round(now - lastProgressMs),
    counts: { ...counts, byReason: { ...counts.byReason } },
    connected: nodes.filter((n) => n.connected).length,
    withInFlight: nodes.filter((n) => n.inFlight > 0).length,
    notDone: notDone.length,
    stuck: notDone.slice(0, DUMP_NODES).map((n) => nodeDump(n, now)),
    answered: [...answered],
  }
}

/** A phase, storm or connect that made no progress for `stallMs`; the answer carries its dump. */
export class StallError extends Error {
  constructor(
    what: string,
    progress: string,
    readonly dump: ClientDump,
  ) {
    super(
      `load process ${process.pid}: ${what} stalled, no progress for ${Math.round(dump.msSinceProgress / 1000)} s (${progress})`,
    )
    this.name = 'StallError'
  }
}

/**
 * Fails `what` with a StallError once no progress was seen for init.stallMs (lastProgressMs is
 * set by whoever counts progress). Returns the function that stops watching.
 */
function watchdog(what: string, progress: () => string, fail: (err: StallError) => void): () => void {
  const timer = setInterval(
    () => {
      const now = wallNow()
      if (now - lastProgressMs < stallMs()) return
      clearInterval(timer)
      fail(new StallError(what, progress(), dump()))
    },
    Math.min(1000, stallMs() / 4),
  )
  return () => clearInterval(timer)
}

const stallMs = () => init.stallMs ?? 60_000

// --- connect, keep-alive, storm ---

/** Nodes connected by `connect` so far (in order). */
let connectCursor = 0

function connectAll(count = nodes.length): Promise<{ firstMs: number; allConnectedMs: number }> {
  const start = wallNow()
  const batch = nodes.slice(connectCursor, connectCursor + count)
  connectCursor += batch.length
  let left = batch.length
  return new Promise((resolve, reject) => {
    if (left === 0) return resolve({ firstMs: start, allConnectedMs: start })
    lastProgressMs = start
    const stopWatchdog = watchdog(
      'connect',
      () => `${batch.length - left} of ${batch.length} CONNACKs`,
      reject,
    )
    for (const node of batch) {
      node.onConnack = () => {
        node.onConnack = undefined
        lastProgressMs = wallNow()
        if (--left === 0) {
          stopWatchdog()
          resolve({ firstMs: start, allConnectedMs: lastProgressMs })
        }
      }
      connectNode(node)
    }
  })
}

let pings = 0
function keepAlive(): void {
  const now = wallNow()
  const due = init.keepaliveS * 900
  for (const node of nodes) {
    if (node.connected && now - node.lastSentMs > due) {
      pings++
      send(node, PINGREQ, now)
    }
  }
}

/**
 * Why a connection attempt got no CONNACK: `no_listener` (ECONNREFUSED: nothing listens on the
 * port, the service is down or starting), `tcp_connect_timeout` (no TCP handshake within the
 * CONNACK timeout: SYNs dropped), `connack_timeout` (connected, CONNECT sent, no CONNACK),
 * `closed_before_connack` (the service closed it, e.g. aedes' connectTimeout or a cap),
 * `reset` (the service reset it), `connack_<code>` (refused with that return code).
 */
export type FailureReason =
  | 'no_listener'
  | 'tcp_connect_timeout'
  | 'tcp_error'
  | 'connack_timeout'
  | 'closed_before_connack'
  | 'reset'
  | `connack_${number}`

const counts = {
  /** PUBACKs for a message id not in flight (ignored). */
  unexpectedAcks: 0,
  failedAttempts: 0,
  connackTimeouts: 0,
  dropped: 0,
  byReason: {} as Partial<Record<FailureReason, number>>,
  /** TCP handshakes that took ≥ 0.9 s (a SYN sent again: the listen backlog overflowed). */
  slowTcpConnects: 0,
  maxTcpConnectMs: 0,
}

function storm(baseTimeMs: number): Promise<StormResult> {
  const latencies: number[] = []
  let connectedLeft = nodes.length
  let storedLeft = nodes.length
  let allConnectedMs = 0
  let firstConnectedMs = 0
  const failedBefore = counts.failedAttempts
  const timeoutsBefore = counts.connackTimeouts
  return new Promise((resolve, reject) => {
    counting = true
    lastProgressMs = wallNow()
    const stopWatchdog = watchdog(
      'storm',
      () =>
        `${nodes.length - connectedLeft} of ${nodes.length} CONNACKs, ${nodes.length - storedLeft} PUBACKs`,
      (err) => {
        counting = false
        for (const node of nodes) {
          node.onAck = undefined
          node.onConnack = undefined
        }
        reject(err)
      },
    )
    for (const node of nodes) {
      const report = publishPacket(node, baseTimeMs)
      // A node whose close is still queued here gets its CONNACK only after reconnecting: the
      // parent arms the storm once the old service has exited, so every CONNACK from now on is
      // the new service's.
      node.onConnack = () => {
        node.onConnack = undefined
        const now = wallNow()
        lastProgressMs = now
        if (connectedLeft === nodes.length) firstConnectedMs = now
        if (--connectedLeft === 0) allConnectedMs = now
        node.packets = [report.packet]
        node.next = 0
        node.acked = 0
        node.inFlight = 0
        sendNext(node, 1, now)
      }
      node.onAck = (latencyMs, now) => {
        node.onAck = undefined
        latencies.push(latencyMs)
        lastProgressMs = now
        if (--storedLeft === 0) {
          stopWatchdog()
          counting = false
          resolve({
            firstConnectedMs,
            allConnectedMs,
            allStoredMs: now,
            failedAttempts: counts.failedAttempts - failedBefore,
            connackTimeouts: counts.connackTimeouts - timeoutsBefore,
            latenciesMs: Float64Array.from(latencies),
          })
        }
      }
    }
  })
}

/** What `stats` answers: counters since the process started. */
export interface ClientStats {
  /** PUBACKs for a message id not in flight (ignored; see NodeDump.unexpectedAcks). */
  unexpectedAcks: number
  pings: number
  connected: number
  connackTimeouts: number
  failedAttempts: number
  dropped: number
  byReason: Partial<Record<FailureReason, number>>
  slowTcpConnects: number
  maxTcpConnectMs: number
}

/** Requests carry a sequence number: a `stats` asked during a `storm` is answered first. */
/** Sequence numbers of the last requests answered (the parent's watch tells a lost answer by them). */
const answered: number[] = []
function answer(message: { seq: number; ok: boolean; [key: string]: unknown }): void {
  answered.push(message.seq)
  if (answered.length > 32) answered.shift()
  process.send!(message)
}

process.on('message', ({ seq, ...m }: Command & { seq: number }) => {
  const reply = (value: unknown) => answer({ seq, ok: true, value })
  const run = async (): Promise<unknown> => {
    switch (m.cmd) {
      case 'init':
        init = m.init
        for (const d of init.devices) nodes.push(new Node(d))
        setInterval(keepAlive, 1000).unref()
        return { nodes: nodes.length, timeOriginErrorMs: performance.timeOrigin - ORIGIN_MS }
      case 'connect':
        return connectAll(m.count)
      case 'prepare':
        prepare(m.job)
        return phaseReadings
      case 'go':
        return runPhase()
      case 'storm':
        return storm(m.baseTimeMs)
      case 'stats':
        return {
          unexpectedAcks: counts.unexpectedAcks,
          pings,
          connected: nodes.filter((n) => n.connected).length,
          connackTimeouts: counts.connackTimeouts,
          failedAttempts: counts.failedAttempts,
          dropped: counts.dropped,
          byReason: { ...counts.byReason },
          slowTcpConnects: counts.slowTcpConnects,
          maxTcpConnectMs: counts.maxTcpConnectMs,
        } satisfies ClientStats
      case 'dump':
        return dump()
      case 'stop':
        for (const node of nodes) {
          node.closing = true
          node.socket?.end(mqttPacket.generate({ cmd: 'disconnect' }))
        }
        setTimeout(() => process.exit(0), 200)
        return nodes.length
    }
  }
  run().then(reply, (err: Error) =>
    answer(
      err instanceof StallError
        ? { seq, ok: false, error: err.message, dump: err.dump }
        : { seq, ok: false, error: err.stack ?? err.message },
    ),
  )
})
process.on('uncaughtException', (err) => {
  process.send!({ ok: false, error: err.stack ?? err.message })
  process.exit(1)
})
