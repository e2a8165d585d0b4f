import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'

/** MQTT control packet type of CONNECT (the high nibble of the first byte). */
const CONNECT = 1

/**
 * Tracks MQTT packet boundaries in a byte stream and reports the first packet whose declared
 * "remaining length" exceeds a limit. aedes' parser (mqtt-packet) has no size limit and buffers
 * a whole packet, up to 256 MiB, before anyone can look at it; this sees the size in the fixed
 * header, within the first five bytes of the packet. A CONNECT has its own, smaller limit: it is
 * what an unauthenticated socket can make the broker buffer.
 */
export class FrameGuard {
  private state: 'type' | 'length' | 'body' = 'type'
  private limit = 0
  private remaining = 0
  private multiplier = 1
  private lengthBytes = 0
  private bodyLeft = 0
  /** Packets whose first byte was seen: tells a new partial packet from the same one. */
  started = 0

  constructor(
    private readonly maxRemainingBytes: number,
    private readonly maxConnectBytes = maxRemainingBytes,
  ) {}

  /** The size limit of the packet being read (after feed() reported one over it: that one's). */
  get packetLimit(): number {
    return this.limit
  }

  /** Whether the stream ends inside a packet (one started and not complete). */
  get partial(): boolean {
    return this.state !== 'type'
  }

  /** The (partial, so lower-bound) declared size of the first packet over its limit, or undefined. */
  feed(chunk: Buffer): number | undefined {
    let i = 0
    while (i < chunk.length) {
      if (this.state === 'type') {
        this.limit = chunk[i++]! >> 4 === CONNECT ? this.maxConnectBytes : this.maxRemainingBytes
        this.started++
        this.state = 'length'
        this.remaining = 0
        this.multiplier = 1
        this.lengthBytes = 0
      } else if (this.state === 'length') {
        const byte = chunk[i++]!
        this.remaining += (byte & 0x7f) * this.multiplier
        this.multiplier *= 128
        this.lengthBytes++
        if (this.remaining > this.limit) return this.remaining
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

export class PartialPacketTimeoutError extends Error {
  constructor(readonly timeoutMs: number) {
    super(`a packet was started and not completed within ${timeoutMs} ms`)
    this.name = 'PartialPacketTimeoutError'
  }
}

export interface FrameLimits {
  /** Largest remaining length of any packet. */
  maxRemainingBytes: number
  /** Largest remaining length of a CONNECT. */
  maxConnectBytes: number
  /**
   * A started packet must be complete within this time, whatever the keepalive (a keepalive-0
   * client has no other deadline, and aedes' keepalive timer only counts whole packets).
   */
  partialPacketTimeoutMs: number
}

/**
 * Guard a socket in place: aedes pulls bytes with `socket.read()` on 'readable', so wrapping that
 * one method lets the FrameGuard see every byte before mqtt-packet buffers it, without putting a
 * stream between aedes and the socket (a Duplex wrapper cost ~10 % of broker CPU in the ingest
 * benchmark, on every PUBACK written). An oversized packet destroys the socket with
 * PacketTooLargeError, a packet left partial too long with PartialPacketTimeoutError, and aedes
 * drops the client. Whole packets per chunk (nearly all traffic) touch no timer.
 */
export function guardSocket<S extends Socket | Duplex>(socket: S, limits: FrameLimits): S {
  const guard = new FrameGuard(limits.maxRemainingBytes, limits.maxConnectBytes)
  const timeoutMs = limits.partialPacketTimeoutMs
  /** When the packet the stream now ends in started (its first chunk), and which packet it is. */
  let partialSinceMs: number | undefined
  let partialPacket = 0
  let timer: NodeJS.Timeout | undefined
  // One timer at a time, re-armed for what is left rather than cleared on every whole chunk.
  const check = () => {
    timer = undefined
    if (partialSinceMs === undefined || socket.destroyed) return
    const leftMs = partialSinceMs + timeoutMs - Date.now()
    if (leftMs <= 0) {
      socket.destroy(new PartialPacketTimeoutError(timeoutMs))
      return
    }
    timer = setTimeout(check, leftMs).unref()
  }
  socket.once('close', () => clearTimeout(timer))
  const read = socket.read.bind(socket)
  socket.read = (size?: number) => {
    const chunk = read(size) as Buffer | string | null
    if (chunk === null || typeof chunk === 'string') return chunk
    const declared = guard.feed(chunk)
    if (declared !== undefined) {
      socket.destroy(new PacketTooLargeError(declared, guard.packetLimit))
      return null
    }
    if (!guard.partial) partialSinceMs = undefined
    else if (partialSinceMs === undefined || partialPacket !== guard.started) {
      partialSinceMs = Date.now()
      partialPacket = guard.started
      timer ??= setTimeout(check, timeoutMs).unref()
    }
    return chunk
  }
  return socket
}
