import mqtt, { type MqttClient } from 'mqtt'

export interface FleetOptions {
  url: string
  village: string
  devices: Array<{ id: string; secret?: string }>
  messagesPerDevice: number
  /** First reading time; each message of a device is 1 s after the previous one. */
  baseTimeMs: number
  protocolVersion?: 4 | 5
  /** Called after each acknowledged message (total so far). */
  onProgress?: (acked: number) => void
  /** Max unacknowledged messages per device. */
  window?: number
}

/** Soil-node style report: 4 readings per message (one per quantity), distinct times. */
export function soilReport(timeMs: number, i: number): string {
  return JSON.stringify({
    ts: timeMs,
    values: {
      soil_moisture: 20 + (i % 50) / 2,
      soil_temperature: 26 + (i % 10) / 10,
      battery_voltage: 3.7,
      signal_strength: -80,
    },
  })
}

/**
 * Devices publishing QoS 1 through reconnects: mqtt.js keeps unacknowledged messages and resends
 * them when the connection is back, as a node's firmware would. Resolves when every message of
 * every device was acknowledged.
 */
export async function runFleet(o: FleetOptions): Promise<void> {
  let acked = 0
  const window = o.window ?? 20
  const clients: MqttClient[] = []
  try {
    await Promise.all(
      o.devices.map(async (d) => {
        const client = await mqtt.connectAsync(o.url, {
          clientId: d.id,
          username: d.secret ? d.id : undefined,
          password: d.secret,
          protocolVersion: o.protocolVersion ?? 4,
          reconnectPeriod: 200,
          clean: true,
        })
        clients.push(client)
        const topic = `kampung/${o.village}/${d.id}/up`
        let next = 0
        const worker = async () => {
          while (next < o.messagesPerDevice) {
            const i = next++
            await client.publishAsync(topic, soilReport(o.baseTimeMs + i * 1000, i), { qos: 1 })
            acked++
            o.onProgress?.(acked)
          }
        }
        await Promise.all(Array.from({ length: window }, worker))
      }),
    )
  } finally {
    await Promise.all(clients.map((c) => c.endAsync(true)))
  }
}
