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

/** `n` devices authenticating at once from one address (a reconnect storm through one NAT). */
async function storm(n: number, legacy: boolean): Promise<{ ok: number; cpuS: number; wallS: number }> {
  const r = new Registry({ path: ':memory:', schemas: [] })
  await r.start()
  r.addVillage({ id: 'desa', name: 'Desa' })
  const creds: Array<[string, string]> = []
  for (let i = 0; i < n; i++) {
    const { secret: s } = await r.addDevice({ id: `n-${i}`, village: 'desa', kind: 'soil', format: 'json' })
    creds.push([`n-${i}`, s])
    if (legacy)
      r.database()
        .prepare('UPDATE devices SET secret_hash = ? WHERE id = ?')
        .run(await hashSecret(s), `n-${i}`)
  }
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  const results = await Promise.all(creds.map(([id, s]) => r.authenticateDevice(id, s, '10.0.0.1')))
  const cpu = process.cpuUsage(cpu0)
  await r.stop()
  return {
    ok: results.filter((x) => x.ok).length,
    cpuS: (cpu.user + cpu.system) / 1e6,
    wallS: (performance.now() - t0) / 1000,
  }
}
const hmacStorm = await storm(NODES, false)
const legacyStorm = await storm(1000, true)

const row = (name: string, us: number) =>
  `| ${name} | ${us.toFixed(1)} | ${((us * NODES) / 1e6).toFixed(2)} s |`
console.log(`| check (process CPU) | µs per check | ${NODES.toLocaleString('en')} reconnects |`)
console.log('|---|---|---|')
console.log(row('scrypt N=1024, r=8 (old device hashes)', scryptUs))
console.log(row('HMAC-SHA-256, 16-byte salt (new)', hmacUs))
console.log(row('Registry.verifySecret, HMAC, right secret', registryUs))
console.log(row('Registry.verifySecret, HMAC, wrong secret', wrongUs))
console.log(row('Registry.verifySecret, unknown id (dummy HMAC)', unknownUs))
const stormRow = (name: string, n: number, x: { ok: number; cpuS: number; wallS: number }) =>
  console.log(
    `| ${name} | ${n} at once, ${x.ok} accepted | ${x.cpuS.toFixed(2)} s CPU, ${x.wallS.toFixed(2)} s wall |`,
  )
console.log('\n| authenticateDevice, one address | devices | cost |')
console.log('|---|---|---|')
stormRow('HMAC', NODES, hmacStorm)
stormRow('legacy scrypt (first login after the upgrade)', 1000, legacyStorm)
