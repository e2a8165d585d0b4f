/** The bytes of a QoS 1 PUBACK in MQTT 3.1.1: type 4, remaining length 2, then the message id. */
const PUBACK = 0x40
const PUBACK_BYTES = 4

/** The part of a socket the writer uses. */
export interface AckSocket {
  write(chunk: Buffer): boolean
  readonly destroyed: boolean
  readonly writable: boolean
}

/**
 * The PUBACK of each message id as its own buffer, made on first use and never changed (a socket
 * may still hold one it could not send at once): at most 65 535 × 4 bytes plus a Buffer object each.
 */
const singles = new Array<Buffer | undefined>(65_536)
function single(id: number): Buffer {
  let buf = singles[id]
  if (buf === undefined) {
    buf = Buffer.from([PUBACK, 2, id >> 8, id & 0xff])
    singles[id] = buf
  }
  return buf
}

interface Pending {
  socket: AckSocket
  /** Message ids waiting for this tick's write, in the order their messages became durable. */
  ids: number[]
}

/**
 * Writes the PUBACKs of stored uplinks: each socket gets one plain write of all its PUBACKs that
 * became due in the same tick (one 4-byte buffer for one, 4 × n bytes for n). aedes writes a
 * PUBACK through mqtt-packet, which corks the socket, writes the fixed header, the length and the
 * id as three chunks and uncorks on the next tick: Node then sends them with writev, through JS
 * arrays built per call. That was a quarter of the service's CPU in the district benchmark (one
 * PUBACK per report), and with a window of 100 reports per connection each PUBACK of a settled
 * batch was its own system call. On loopback each write also runs the receiver's TCP delivery, so
 * one write per socket per tick is also the least kernel time. Order per socket is kept (ids are
 * written in the order given).
 */
export class PubackWriter {
  private readonly pending = new WeakMap<AckSocket, Pending>()
  private due: Pending[] = []
  private scheduled = false
  private readonly flushBound = () => this.flush()

  /** Queues the PUBACK of `messageId` on `socket`; written at the end of this tick. */
  add(socket: AckSocket, messageId: number): void {
    let p = this.pending.get(socket)
    if (p === undefined) {
      p = { socket, ids: [] }
      this.pending.set(socket, p)
    }
    if (p.ids.length === 0) this.due.push(p)
    p.ids.push(messageId)
    if (!this.scheduled) {
      this.scheduled = true
      process.nextTick(this.flushBound)
    }
  }

  private flush(): void {
    this.scheduled = false
    const due = this.due
    this.due = []
    for (const p of due) {
      const ids = p.ids
      const socket = p.socket
      if (socket.destroyed || !socket.writable) {
        // Closed meanwhile: the device resends, the stores are idempotent.
        ids.length = 0
        continue
      }
      if (ids.length === 1) {
        // One report in flight per node (a district): nothing to allocate.
        socket.write(single(ids[0]!))
        ids.length = 0
        continue
      }
      const buf = Buffer.allocUnsafe(PUBACK_BYTES * ids.length)
      for (let i = 0, at = 0; i < ids.length; i++, at += PUBACK_BYTES) {
        const id = ids[i]!
        buf[at] = PUBACK
        buf[at + 1] = 2
        buf[at + 2] = id >> 8
        buf[at + 3] = id & 0xff
      }
      ids.length = 0
      socket.write(buf)
    }
  }
}
