/**
 * The floor below bare aedes: a plain TCP server that speaks just enough MQTT 3.1.1 for the
 * benchmarks' load generators (CONNECT → CONNACK, QoS 1 PUBLISH → PUBACK, PINGREQ → PINGRESP,
 * DISCONNECT), with no broker, no parser library, no auth and nothing stored: the PUBACKs of one
 * socket chunk go out as one buffer. What it costs per report is what reading a PUBLISH and
 * writing its PUBACK costs on this machine (on loopback the sender's write also runs the
 * receiver's TCP delivery); `bench/district-floor.ts` measures it.
 *
 *   node --import tsx bench/bare-puback.ts PORT
 */
import { createServer, type Socket } from 'node:net'

const CONNECT = 1
const PUBLISH = 3
const PINGREQ = 12
const DISCONNECT = 14
const CONNACK = Buffer.from([0x20, 0x02, 0x00, 0x00])
const PINGRESP = Buffer.from([0xd0, 0x00])

function serve(socket: Socket): void {
  let pending: Buffer | undefined
  socket.on('error', () => socket.destroy())
  socket.on('data', (chunk: Buffer) => {
    const data = pending ? Buffer.concat([pending, chunk]) : chunk
    const out: Buffer[] = []
    let acks: Buffer | undefined
    let ackCount = 0
    let at = 0
    while (at < data.length) {
      const type = data[at]! >> 4
      let length = 0
      let multiplier = 1
      let i = at + 1
      let complete = false
      for (let n = 0; n < 4 && i < data.length; n++) {
        const byte = data[i++]!
        length += (byte & 0x7f) * multiplier
        multiplier *= 128
        if ((byte & 0x80) === 0) {
          complete = true
          break
        }
      }
      if (!complete || i + length > data.length) break
      if (type === PUBLISH && ((data[at]! >> 1) & 3) > 0) {
        const idAt = i + 2 + data.readUInt16BE(i)
        acks ??= Buffer.allocUnsafe(4 * Math.ceil(data.length / 8))
        acks[ackCount * 4] = 0x40
        acks[ackCount * 4 + 1] = 0x02
        acks[ackCount * 4 + 2] = data[idAt]!
        acks[ackCount * 4 + 3] = data[idAt + 1]!
        ackCount++
      } else if (type === CONNECT) out.push(CONNACK)
      else if (type === PINGREQ) out.push(PINGRESP)
      else if (type === DISCONNECT) {
        socket.end()
        return
      }
      at = i + length
    }
    pending = at < data.length ? data.subarray(at) : undefined
    if (acks) out.push(acks.subarray(0, ackCount * 4))
    if (out.length === 1) socket.write(out[0]!)
    else if (out.length > 1) socket.write(Buffer.concat(out))
  })
}

const port = Number(process.argv[2])
const server = createServer(serve)
server.listen({ port, host: '127.0.0.1', backlog: 20_000 }, () =>
  console.log(`bare PUBACK server listening on ${port}`),
)
process.on('SIGTERM', () => {
  server.close()
  process.exit(0)
})
