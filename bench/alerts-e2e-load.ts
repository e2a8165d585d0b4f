/**
 * Background load for bench/alerts-e2e.ts, run in a worker thread: soil nodes publishing QoS 1
 * reports of 4 readings at a fixed total rate (paced every 10 ms, not as fast as possible), written
 * with mqtt-packet straight onto sockets as in bench/load-client.ts. Moisture stays between 30 and
 * 32 %VWC: inside every chili rule's band, so the load costs the engine its evaluations but never
 * raises an alert of its own.
 */
import net from 'node:net'
import { parentPort, workerData } from 'node:worker_threads'
import mqttPacket from 'mqtt-packet'

export interface PacedJob {
  port: number
  devices: Array<{ id: string; village: string; secret: string }>
  readingsPerS: number
  /** Unacknowledged messages per connection before it is skipped (counted as behind). */
  window: number
}

export interface PacedResult {
  sent: number
  acked: number
  /** Ticks at which a device was skipped because its window was full (the service fell behind). */
  skipped: number
  seconds: number
  /** publish → PUBACK (= durable in the store), ms */
  ackLatenciesMs: Float64Array
}

const READINGS_PER_MESSAGE = 4
const TICK_MS = 10

interface Conn {
  socket: net.Socket
  topic: string
  inFlight: number
  messageId: number
  sentAt: Float64Array
  i: number
}

function connect(port: number, d: PacedJob['devices'][number], onAck: (ms: number) => void): Promise<Conn> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1')
    socket.setNoDelay(true)
    const parser = mqttPacket.parser({ protocolVersion: 4 })
    const conn: Conn = {
      socket,
      topic: `kampung/${d.village}/${d.id}/up`,
      inFlight: 0,
      messageId: 0,
      sentAt: new Float64Array(65536),
      i: 0,
    }
    parser.on('packet', (packet) => {
      if (packet.cmd === 'connack') {
        if (packet.returnCode !== 0) reject(new Error(`${d.id}: CONNACK ${packet.returnCode}`))
        else resolve(conn)
      } else if (packet.cmd === 'puback') {
        conn.inFlight--
        onAck(performance.now() - conn.sentAt[packet.messageId!]!)
      }
    })
    socket.on('data', (b) => parser.parse(b))
    socket.on('error', reject)
    socket.write(
      mqttPacket.generate({
        cmd: 'connect',
        protocolId: 'MQTT',
        protocolVersion: 4,
        clean: true,
        clientId: d.id,
        keepalive: 60,
        username: d.id,
        password: Buffer.from(d.secret),
      }),
    )
  })
}

if (parentPort && workerData) {
  const job = workerData as PacedJob
  const latencies: number[] = []
  let acked = 0
  const conns = await Promise.all(
    job.devices.map((d) =>
      connect(job.port, d, (ms) => {
        acked++
        latencies.push(ms)
      }),
    ),
  )
  let running = false
  let sent = 0
  let skipped = 0
  let startedAt = 0
  let next = 0
  let timer: NodeJS.Timeout | undefined
  const tick = () => {
    if (!running) return
    const due = Math.floor(
      ((performance.now() - startedAt) / 1000) * (job.readingsPerS / READINGS_PER_MESSAGE),
    )
    const now = performance.now()
    const batches = new Map<Conn, Buffer[]>()
    for (let tries = 0; sent < due && tries < conns.length * 4; tries++) {
      const c = conns[next++ % conns.length]!
      if (c.inFlight >= job.window) {
        skipped++
        continue
      }
      const ts = Date.now()
      const payload = JSON.stringify({
        ts,
        values: {
          soil_moisture: 30 + (c.i % 3),
          soil_temperature: 26 + (c.i % 10) / 10,
          battery_voltage: 3.9,
          signal_strength: -70 - (c.i % 20),
        },
      })
      c.i++
      c.messageId = (c.messageId % 65535) + 1
      c.sentAt[c.messageId] = now
      c.inFlight++
      sent++
      const list = batches.get(c) ?? []
      list.push(
        mqttPacket.generate({
          cmd: 'publish',
          topic: c.topic,
          payload,
          qos: 1,
          messageId: c.messageId,
          retain: false,
          dup: false,
        }),
      )
      batches.set(c, list)
    }
    for (const [c, list] of batches) c.socket.write(Buffer.concat(list))
  }
  parentPort.on('message', (m: string) => {
    if (m === 'start') {
      running = true
      startedAt = performance.now()
      timer = setInterval(tick, TICK_MS)
    } else if (m === 'stop') {
      running = false
      clearInterval(timer)
      const seconds = (performance.now() - startedAt) / 1000
      // a moment for the last acknowledgements
      setTimeout(() => {
        for (const c of conns) c.socket.end(mqttPacket.generate({ cmd: 'disconnect' }))
        const result: PacedResult = {
          sent,
          acked,
          skipped,
          seconds,
          ackLatenciesMs: Float64Array.from(latencies),
        }
        parentPort!.postMessage({ done: true, result })
      }, 2000)
    }
  })
  parentPort.postMessage({ ready: true })
}
