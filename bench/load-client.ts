/**
 * Load generator for the benchmark, run in a worker thread: many device connections, each keeping
 * a window of QoS 1 publishes in flight, written with mqtt-packet straight onto sockets so the
 * generator costs little CPU next to the broker it measures. Each message is one node's report of
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
}

export interface LoadResult {
  messages: number
  readings: number
  firstSendMs: number
  lastAckMs: number
  /** publish → PUBACK per message, ms (the broker acknowledges only once durable). */
  latenciesMs: Float64Array
}

function report(kind: LoadDevice['kind'], ts: number, i: number): { payload: string; readings: number } {
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
    soil_moisture: 15 + (i % 300) / 10,
    soil_temperature: 25 + (i % 40) / 10,
    battery_voltage: 3.9,
    signal_strength: -70 - (i % 30),
  }
  return { payload: JSON.stringify({ ts, values }), readings: 4 }
}

function runDevice(
  job: LoadJob,
  device: LoadDevice,
  latencies: number[],
  totals: { readings: number; first: number; last: number },
): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(job.port, '127.0.0.1')
    socket.setNoDelay(true)
    const parser = mqttPacket.parser({ protocolVersion: 4 })
    const sentAt = new Float64Array(65536)
    const topic = `kampung/${device.village}/${device.id}/up`
    let next = 0
    let acked = 0
    let inFlight = 0
    let messageId = 0
    const pump = () => {
      const chunks: Buffer[] = []
      const now = performance.timeOrigin + performance.now()
      while (inFlight < job.window && next < job.messagesPerDevice) {
        const i = next++
        const { payload, readings } = report(device.kind, job.baseTimeMs + i * 1000, i)
        totals.readings += readings
        messageId = (messageId % 65535) + 1
        sentAt[messageId] = now
        inFlight++
        chunks.push(
          mqttPacket.generate({
            cmd: 'publish',
            topic,
            payload,
            qos: 1,
            messageId,
            retain: false,
            dup: false,
          }),
        )
      }
      if (totals.first === 0) totals.first = now
      if (chunks.length) socket.write(Buffer.concat(chunks))
    }
    parser.on('packet', (packet) => {
      if (packet.cmd === 'connack') {
        if (packet.returnCode !== 0) return reject(new Error(`${device.id}: CONNACK ${packet.returnCode}`))
        pump()
      } else if (packet.cmd === 'puback') {
        const now = performance.timeOrigin + performance.now()
        latencies.push(now - sentAt[packet.messageId!]!)
        inFlight--
        acked++
        if (now > totals.last) totals.last = now
        if (acked === job.messagesPerDevice) {
          socket.end(mqttPacket.generate({ cmd: 'disconnect' }))
          resolve()
        } else pump()
      }
    })
    socket.on('data', (d) => parser.parse(d))
    socket.on('error', reject)
    socket.on('close', () => {
      if (acked < job.messagesPerDevice)
        reject(new Error(`${device.id}: connection closed after ${acked} acks`))
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
  const totals = { readings: 0, first: 0, last: 0 }
  // Wait for the go signal so every worker starts at once.
  parentPort.once('message', async () => {
    try {
      await Promise.all(job.devices.map((d) => runDevice(job, d, latencies, totals)))
      const result: LoadResult = {
        messages: job.devices.length * job.messagesPerDevice,
        readings: totals.readings,
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
