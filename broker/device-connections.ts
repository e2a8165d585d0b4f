import type { Client } from 'aedes'

/**
 * Open connections per device, capped: one stolen or copied credential cannot hold thousands of
 * sockets (each a file descriptor and aedes' per-client buffers). Counted at authentication, so
 * a burst of CONNECTs racing each other is counted before any of them is ready.
 */
export class DeviceConnections {
  private readonly byDevice = new Map<string, Set<Client>>()
  private readonly max: number

  constructor(max: number) {
    this.max = max
  }

  /**
   * Counts `client` as one of `deviceId`'s connections, or returns false when the device already
   * has `max` open. A connection with the same client id is not counted: aedes closes it when
   * this one registers ([MQTT-3.1.4-2]), so a device reconnecting over a half-open socket is let in.
   */
  admit(deviceId: string, client: Client): boolean {
    const clients = this.byDevice.get(deviceId) ?? new Set<Client>()
    let open = 0
    for (const c of clients) {
      if (c.closed) clients.delete(c)
      else if (c.id !== client.id) open++
    }
    if (open >= this.max) return false
    clients.add(client)
    this.byDevice.set(deviceId, clients)
    // The socket always closes, whether or not aedes ever registered the client.
    ;(client.conn as unknown as NodeJS.EventEmitter).once('close', () => this.forget(deviceId, client))
    return true
  }

  /** Open connections of a device (for stats and tests). */
  count(deviceId: string): number {
    let open = 0
    for (const c of this.byDevice.get(deviceId) ?? []) if (!c.closed) open++
    return open
  }

  private forget(deviceId: string, client: Client): void {
    const clients = this.byDevice.get(deviceId)
    if (!clients) return
    clients.delete(client)
    if (clients.size === 0) this.byDevice.delete(deviceId)
  }

  clear(): void {
    this.byDevice.clear()
  }
}
