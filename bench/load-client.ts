/**
 * Load generator for the benchmark, run in a worker thread: many device connections, each keeping
 * a window of QoS 1 publishes in flight, written straight onto sockets so the generator costs
 * little CPU next to the broker it measures: every PUBLISH is encoded (mqtt-packet) before the
 * clock starts, the 4-byte acknowledgements are read by hand, and the window is refilled with one
 * write per chunk of acknowledgements (devices on their own machines cost the service nothing). Each message is one node's report of
 * 4 (soil node) or 6 (weather station) readings, as real nodes send them, not gateway batches.
 */
import net from 'node:net'
import { parentPort, workerData } from 'node:worker_threads'
import mqttPacket from 'mqtt-packet'

export interface LoadDevice {
  id: string
  village: string
  secret: string
  kind: 'soil' | 'weather'
}

export interface LoadJob {
  port: number
  devices: LoadDevice[]
  messagesPerDevice: number
  window: number
  baseTimeMs: number
  /** Device time between two reports of one device (default 1 000 ms). */
  intervalMs?: number
}

export interface LoadResult {
  messages: number
  readings: number
  firstSendMs: number
  lastAckMs: number
  /** publish → PUBACK per message, ms (the broker acknowledges only once durable). */
  latenciesMs: Float64Array
}

/**
 * The i-th report of a load node: 6 weather readings or 4 soil readings; `soilMoisture` picks the
 * soil value (default: a sweep of 15–45 % VWC). Shared with the district bench's client.
 */
export function report(
  kind: LoadDevice['kind'],
  ts: number,
  i: number,
  soilMoisture: (i: number) => number = (n) => 15 + (n % 300) / 10,
): { payload: string; readings: number } {
  if (kind === 'weather') {
    const values = {
      air_temperature: 24 + (i % 80) / 10,
      relative_humidity: 60 + (i % 30),
      pressure: 1008 + (i % 10) / 10,
      rainfall: (i % 7) / 10,
      wind_speed: (i % 50) / 10,
      solar_radiation: i % 900,
    }
    return { payload: JSON.stringify({ ts, values }), readings: 6 }
  }
  const values = {
    soil_moisture: soilMoisture(i),
    soil_temperature: 25 + (i % 40) / 10,
    battery_voltage: 3.9,
    signal_strength: -70 - (i % 30),
  }
  return { payload: JSON.stringify({ ts, values }), readings: 4 }
}

/** Every quantity report() sends (the benches count these in the store), from report() itself. */
export const QUANTITIES_SENT: readonly string[] = (['weather', 'soil'] as const).flatMap((kind) =>
  Object.keys((JSON.parse(report(kind, 0, 0).payload) as { values: object }).values),
)

/**
 * Every PUBLISH of one device, encoded before the clock starts. Message ids cycle through
 * 1..65535; with at most `window` (< 65535) unacknowledged, no two in flight share one.
 */
function buildPackets(job: LoadJob, device: LoadDevice): { packets: Buffer[]; readings: number } {
  const topic = `kampung/${device.village}/${device.id}/up`
  const packets: Buffer[] = []
  let readings = 0
  for (let i = 0; i < job.messagesPerDevice; i++) {
    const r = report(device.kind, job.baseTimeMs + i * (job.intervalMs ?? 1000), i)
    readings += r.readings
    packets.push(
      mqttPacket.generate({
        cmd: 'publish',
        topic,
        payload: r.payload,
        qos: 1,
        messageId: (i % 65535) + 1,
        retain: false,
        dup: false,
      }),
    )
  }
  return { packets, readings }
}

/** CONNACK (0x20) and PUBACK (0x40) are the only packets a publishing device gets: 4 bytes each. */
const CONNACK = 0x20
const PUBACK = 0x40

function runDevice(
  job: LoadJob,
  device: LoadDevice,
  packets: Buffer[],
  latencies: number[],
  totals: { first: number; last: number },
): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(job.port, '127.0.0.1')
    socket.setNoDelay(true)
    const sentAt = new Float64Array(65536)
    let next = 0
    let acked = 0
    let inFlight = 0
    let pending: Buffer | undefined
    // Refill the window once per chunk of acknowledgements: one write, not one per PUBACK.
    const pump = (now: number) => {
      const from = next
      while (inFlight < job.window && next < packets.length) {
        sentAt[(next % 65535) + 1] = now
        inFlight++
        next++
      }
      if (totals.first === 0) totals.first = now
      if (next > from)
        socket.write(from + 1 === next ? packets[from]! : Buffer.concat(packets.slice(from, next)))
    }
    socket.on('data', (chunk: Buffer) => {
      const data = pending ? Buffer.concat([pending, chunk]) : chunk
      const now = performance.timeOrigin + performance.now()
      let at = 0
      let connected = false
      for (; at + 4 <= data.length; at += 4) {
        const type = data[at]! & 0xf0
        if (data[at + 1] !== 2 || (type !== CONNACK && type !== PUBACK)) {
          socket.destroy()
          return reject(new Error(`${device.id}: unexpected packet 0x${data[at]!.toString(16)}`))
        }
        if (type === CONNACK) {
          if (data[at + 3] !== 0) return reject(new Error(`${device.id}: CONNACK ${data[at + 3]}`))
          connected = true
          continue
        }
        latencies.push(now - sentAt[data.readUInt16BE(at + 2)]!)
        inFlight--
        acked++
      }
      pending = at < data.length ? data.subarray(at) : undefined
      if (acked > 0 && now > totals.last) totals.last = now
      if (acked === packets.length) {
        socket.end(mqttPacket.generate({ cmd: 'disconnect' }))
        resolve()
      } else if (connected || acked > 0) pump(now)
    })
    socket.on('error', reject)
    socket.on('close', () => {
      if (acked < packets.length) reject(new Error(`${device.id}: connection closed after ${acked} acks`))
    })
    socket.write(
      mqttPacket.generate({
        cmd: 'connect',
        protocolId: 'MQTT',
        protocolVersion: 4,
        clean: true,
        clientId: device.id,
        keepalive: 60,
        username: device.id,
        password: Buffer.from(device.secret),
      }),
    )
  })
}

if (parentPort && workerData) {
  const job = workerData as LoadJob
  const latencies: number[] = []
  const totals = { first: 0, last: 0 }
  const built = job.devices.map((d) => buildPackets(job, d))
  // Wait for the go signal so every worker starts at once.
  parentPort.once('message', async () => {
    try {
      await Promise.all(job.devices.map((d, i) => runDevice(job, d, built[i]!.packets, latencies, totals)))
      const result: LoadResult = {
        messages: job.devices.length * job.messagesPerDevice,
        readings: built.reduce((n, b) => n + b.readings, 0),
        firstSendMs: totals.first,
        lastAckMs: totals.last,
        latenciesMs: Float64Array.from(latencies),
      }
      parentPort!.postMessage({ ok: true, result })
    } catch (err) {
      parentPort!.postMessage({ ok: false, error: (err as Error).message })
    }
  })
  parentPort.postMessage({ ready: true })
}
