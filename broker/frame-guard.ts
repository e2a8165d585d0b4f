import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'

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
 * Guard a socket in place: aedes pulls bytes with `socket.read()` on 'readable', so wrapping that
 * one method lets the FrameGuard see every byte before mqtt-packet buffers it, without putting a
 * stream between aedes and the socket (a Duplex wrapper cost ~10 % of broker CPU in the ingest
 * benchmark, on every PUBACK written). An oversized packet destroys the socket with
 * PacketTooLargeError, and aedes drops the client.
 */
export function guardSocket<S extends Socket | Duplex>(socket: S, maxRemainingBytes: number): S {
  const guard = new FrameGuard(maxRemainingBytes)
  const read = socket.read.bind(socket)
  socket.read = (size?: number) => {
    const chunk = read(size) as Buffer | string | null
    if (chunk === null || typeof chunk === 'string') return chunk
    const declared = guard.feed(chunk)
    if (declared === undefined) return chunk
    socket.destroy(new PacketTooLargeError(declared, maxRemainingBytes))
    return null
  }
  return socket
}
