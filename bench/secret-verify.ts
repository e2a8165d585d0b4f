/**
 * Device secret verification, old and new: µs per check of a scrypt N=1024 hash (what devices
 * were registered with until 2026-12) against an HMAC-SHA-256 hash, alone and through
 * `Registry.verifySecret` (SQLite lookup included), and what a reconnect storm of 10 000 nodes
 * costs in CPU with each. Not part of `npm run bench`:
 *
 *   node --import tsx bench/secret-verify.ts
 */
import { hashSecret, Registry, verifyHash } from '../src/registry/index.ts'
import { hashDeviceSecret, newSecret, verifyDeviceHash } from '../src/registry/secrets.ts'

const NODES = 10_000

async function usPer(n: number, run: () => unknown): Promise<number> {
  await run() // warm-up
  const cpu0 = process.cpuUsage()
  for (let i = 0; i < n; i++) await run()
  const cpu = process.cpuUsage(cpu0)
  // scrypt runs on libuv's thread pool: process CPU time counts it, wall time would not
  return (cpu.user + cpu.system) / n
}

const secret = newSecret()
const scryptHash = await hashSecret(secret)
const hmacHash = hashDeviceSecret(secret)

const scryptUs = await usPer(200, () => verifyHash(secret, scryptHash))
const hmacUs = await usPer(20_000, () => verifyDeviceHash(secret, hmacHash))

const registry = new Registry({ path: ':memory:', schemas: [] })
await registry.start()
registry.addVillage({ id: 'desa', name: 'Desa' })
const { secret: deviceSecret } = await registry.addDevice({
  id: 'n-1',
  village: 'desa',
  kind: 'soil',
  format: 'json',
})
const registryUs = await usPer(20_000, () => registry.verifySecret('n-1', deviceSecret))
const wrongUs = await usPer(20_000, () => registry.verifySecret('n-1', `${deviceSecret}x`))
const unknownUs = await usPer(20_000, () => registry.verifySecret('ghost', deviceSecret))
await registry.stop()

const row = (name: string, us: number) =>
  `| ${name} | ${us.toFixed(1)} | ${((us * NODES) / 1e6).toFixed(2)} s |`
console.log(`| check (process CPU) | µs per check | ${NODES.toLocaleString('en')} reconnects |`)
console.log('|---|---|---|')
console.log(row('scrypt N=1024, r=8 (old device hashes)', scryptUs))
console.log(row('HMAC-SHA-256, 16-byte salt (new)', hmacUs))
console.log(row('Registry.verifySecret, HMAC, right secret', registryUs))
console.log(row('Registry.verifySecret, HMAC, wrong secret', wrongUs))
console.log(row('Registry.verifySecret, unknown id (dummy HMAC)', unknownUs))
