import type { Socket } from 'node:net'
import { Duplex, Transform } from 'node:stream'

/**
 * Tracks MQTT packet boundaries in a byte stream and reports the first packet whose declared
 * "remaining length" exceeds a limit. aedes' parser (mqtt-packet) has no size limit and buffers
 * a whole packet, up to 256 MiB, before anyone can look at it; this sees the size in the fixed
 * header, within the first five bytes of the packet.
 */
export class FrameGuard {
  private state: 'type' | 'length' | 'body' = 'type'
  private remaining = 0
  private multiplier = 1
  private lengthBytes = 0
  private bodyLeft = 0

  constructor(private readonly maxRemainingBytes: number) {}

  /** The (partial, so lower-bound) declared size of the first packet over the limit, or undefined. */
  feed(chunk: Buffer): number | undefined {
    let i = 0
    while (i < chunk.length) {
      if (this.state === 'type') {
        i++
        this.state = 'length'
        this.remaining = 0
        this.multiplier = 1
        this.lengthBytes = 0
      } else if (this.state === 'length') {
        const byte = chunk[i++]!
        this.remaining += (byte & 0x7f) * this.multiplier
        this.multiplier *= 128
        this.lengthBytes++
        if (this.remaining > this.maxRemainingBytes) return this.remaining
        // [MQTT-2.2.3] at most four length bytes; a malformed fifth is the parser's to reject.
        if ((byte & 0x80) === 0 || this.lengthBytes === 4) {
          this.bodyLeft = this.remaining
          this.state = this.bodyLeft > 0 ? 'body' : 'type'
        }
      } else {
        const take = Math.min(this.bodyLeft, chunk.length - i)
        i += take
        this.bodyLeft -= take
        if (this.bodyLeft === 0) this.state = 'type'
      }
    }
    return undefined
  }
}

export class PacketTooLargeError extends Error {
  constructor(
    readonly declaredBytes: number,
    readonly maxBytes: number,
  ) {
    super(`packet of at least ${declaredBytes} bytes exceeds the ${maxBytes}-byte limit`)
    this.name = 'PacketTooLargeError'
  }
}

/**
 * The socket as aedes should see it: reads pass through a FrameGuard, writes go straight to the
 * socket. An oversized packet errors the stream, and aedes drops the client.
 */
export function guardSocket(socket: Socket, maxRemainingBytes: number): Duplex {
  const guard = new FrameGuard(maxRemainingBytes)
  const inbound = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      const declared = guard.feed(chunk)
      if (declared === undefined) return callback(null, chunk)
      callback(new PacketTooLargeError(declared, maxRemainingBytes))
      socket.destroy()
    },
  })
  socket.pipe(inbound)
  // Node accepts {readable, writable} of Node streams here; @types/node only declares web streams.
  const pair = { readable: inbound, writable: socket } as unknown as Parameters<typeof Duplex.from>[0]
  const conn = Duplex.from(pair)
  // pipe() forwards the end of input but not errors, nor teardown from the aedes side. A socket
  // that merely ends is left to the pipe: destroying `conn` then would drop packets aedes has
  // not read yet (mosquitto_pub sends PUBLISH, DISCONNECT and FIN in one go).
  socket.once('error', (err) => conn.destroy(err))
  conn.once('close', () => socket.destroy())
  return conn
}
