import type { MqttClient } from 'mqtt'

interface PacketLike {
  cmd: string
  messageId?: number
}

export interface HeldPubackOptions {
  /** Work per incoming QoS 1 message id; its PUBACK goes out only once that promise resolves. */
  pending: Map<number, Promise<void>>
  /** The connection's generation: a PUBACK of an older connection is never sent on a newer one. */
  generation: () => number
  /** The work failed: the caller drops the connection so the broker redelivers the message. */
  onFailed: (err: Error) => void
}

/**
 * Holds mqtt.js's automatic PUBACK for a QoS 1 message until its work (durable store, or committed
 * evaluation) is done. mqtt.js acknowledges as soon as its message handler returns; wrapping its
 * packet writer is the one place where the acknowledgement can wait.
 */
export function holdPubacks(client: MqttClient, opts: HeldPubackOptions): void {
  const internal = client as unknown as {
    _sendPacket: (p: PacketLike, cb?: (e?: Error) => void, ...rest: unknown[]) => void
  }
  const send = internal._sendPacket.bind(client)
  internal._sendPacket = (packet, cb, ...rest) => {
    const work =
      packet.cmd === 'puback' && packet.messageId !== undefined
        ? opts.pending.get(packet.messageId)
        : undefined
    if (!work) return send(packet, cb, ...rest)
    opts.pending.delete(packet.messageId!)
    const generation = opts.generation()
    work.then(
      () => {
        if (generation === opts.generation() && client.connected) send(packet)
      },
      (err) => {
        if (generation === opts.generation()) opts.onFailed(err as Error)
      },
    )
    cb?.()
  }
}
