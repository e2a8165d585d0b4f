#!/usr/bin/env node
// `npm test`: make sure the real services the tests start exist (Debian packages, installed as
// root when missing), then run vitest. The tests start and stop each service themselves on free
// ports in temp dirs; nothing here relies on a service someone started by hand.
import { execFileSync, spawnSync } from 'node:child_process'

const NEEDED = [
  { bin: 'influxd', pkg: 'influxdb' },
  { bin: 'influx', pkg: 'influxdb-client' },
  { bin: 'mosquitto', pkg: 'mosquitto', paths: ['/usr/sbin/mosquitto'] },
  { bin: 'mosquitto_pub', pkg: 'mosquitto-clients' },
  { bin: 'openssl', pkg: 'openssl' },
  { bin: 'redis-server', pkg: 'redis-server' },
  { bin: 'bearerbox', pkg: 'kannel', paths: ['/usr/sbin/bearerbox'] },
  { bin: 'fakesmsc', pkg: 'kannel-extras', paths: ['/usr/lib/kannel/test/fakesmsc'] },
  { bin: 'chromium', pkg: 'chromium', paths: ['/usr/bin/chromium'] },
]

function has(bin, paths = []) {
  if (spawnSync('sh', ['-c', `command -v ${bin}`]).status === 0) return true
  return paths.some((p) => spawnSync('test', ['-x', p]).status === 0)
}

const missing = NEEDED.filter((n) => !has(n.bin, n.paths)).map((n) => n.pkg)
if (missing.length > 0) {
  if (process.getuid?.() !== 0) {
    console.error(
      `missing Debian packages: ${missing.join(' ')}; install them as root: apt-get install -y ${missing.join(' ')}`,
    )
    process.exit(1)
  }
  console.log(`installing Debian packages: ${missing.join(' ')}`)
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit' })
  execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], {
    stdio: 'inherit',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  })
}

const args = process.argv.slice(2)
process.exit(spawnSync('npx', ['vitest', 'run', ...args], { stdio: 'inherit' }).status ?? 1)
