/**
 * A broker on its own, for trying devices by hand: a throwaway registry with village `kemiren`
 * and device `soil-01`, whose secret is printed. Uplinks are printed instead of stored.
 *
 *   npx tsx broker/example.ts            # MQTT on 127.0.0.1:1883 (PORT=1884 to change)
 */
import { mkdtempSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Registry } from '../src/registry/index.ts'
import { Broker } from './index.ts'

const registry = new Registry({
  path: path.join(mkdtempSync(path.join(os.tmpdir(), 'kampung-example-')), 'r.db'),
  schemas: [],
})
await registry.start()
registry.addVillage({ id: 'kemiren', name: 'Desa Kemiren' })
const { secret } = await registry.addDevice({
  id: 'soil-01',
  village: 'kemiren',
  kind: 'soil',
  format: 'json',
})
const broker = new Broker({
  host: '127.0.0.1',
  port: Number(process.env.PORT ?? 1883),
  registry,
  onUplink: (device, topic, payload, done) => {
    console.log(`uplink from ${device.id} on ${topic}: ${payload.toString()}`)
    done() // acknowledged: the PUBACK goes out now
  },
})
await broker.start()
console.log(`broker on 127.0.0.1:${broker.port}; device soil-01, secret ${secret}`)
const stop = async () => {
  await broker.stop()
  await registry.stop()
  console.log('refusals:', JSON.stringify(broker.stats().refused))
}
process.once('SIGINT', stop)
process.once('SIGTERM', stop)
