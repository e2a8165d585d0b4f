import net from 'node:net'
import mqttPacket from 'mqtt-packet'

export interface TappedPublish {
  clientId: string
  topic: string
  payload: string
  atMs: number
}

export interface MqttTap {
  port: number
  /** PUBLISH packets from clients to the broker, in wire order. */
  publishes: TappedPublish[]
  /** Per client id: the most QoS 1 PUBLISHes ever unacknowledged at once on one connection. */
  maxInFlight: Map<string, number>
  close(): Promise<void>
}

/**
 * A TCP pass-through in front of the broker that parses both directions with mqtt-packet: what
 * the gateway really put on the wire, independent of the gateway's own counters. When the broker is
 * down, the client's connection is closed as a refused TCP connect would be.
 */
export async function startTap(brokerPort: () => number): Promise<MqttTap> {
  const publishes: TappedPublish[] = []
  const maxInFlight = new Map<string, number>()
  const sockets = new Set<net.Socket>()
  const server = net.createServer((client) => {
    const upstream = net.connect(brokerPort(), '127.0.0.1')
    sockets.add(client)
    sockets.add(upstream)
    let clientId = '?'
    const unacked = new Set<number>()
    const fromClient = mqttPacket.parser({ protocolVersion: 4 })
    const fromBroker = mqttPacket.parser({ protocolVersion: 4 })
    fromClient.on('packet', (p) => {
      if (p.cmd === 'connect') clientId = p.clientId
      if (p.cmd === 'publish') {
        publishes.push({ clientId, topic: p.topic, payload: p.payload.toString(), atMs: Date.now() })
        if (p.qos === 1 && p.messageId !== undefined) {
          unacked.add(p.messageId)
          maxInFlight.set(clientId, Math.max(maxInFlight.get(clientId) ?? 0, unacked.size))
        }
      }
    })
    fromBroker.on('packet', (p) => {
      if (p.cmd === 'puback' && p.messageId !== undefined) unacked.delete(p.messageId)
    })
    client.on('data', (d) => {
      fromClient.parse(d)
      upstream.write(d)
    })
    upstream.on('data', (d) => {
      fromBroker.parse(d)
      client.write(d)
    })
    const closeBoth = () => {
      client.destroy()
      upstream.destroy()
      sockets.delete(client)
      sockets.delete(upstream)
    }
    client.on('close', closeBoth)
    upstream.on('close', closeBoth)
    client.on('error', closeBoth)
    upstream.on('error', closeBoth)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as net.AddressInfo).port,
    publishes,
    maxInFlight,
    async close() {
      for (const s of sockets) s.destroy()
      await new Promise((r) => server.close(r))
    },
  }
}
