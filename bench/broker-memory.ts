/**
 * What one MQTT connection costs the broker in memory: an embedded Broker (registry of the
 * district fleet, no ingest) in this process, BENCH_MEM_NODES device connections opened in steps
 * of BENCH_MEM_STEP by a child process (CONNECT with keep-alive, then idle), and after each step,
 * after a full GC, process.memoryUsage(). BENCH_MEM_SNAPSHOT=<file> writes a heap snapshot at the
 * end. Needs the district fleet cached by bench/district.ts. Run:
 * `node --expose-gc --import tsx bench/broker-memory.ts`.
 */
import { fork } from 'node:child_process'
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import v8 from 'node:v8'
import mqttPacket from 'mqtt-packet'
import { Broker } from '../broker/index.ts'
import { Registry } from '../src/registry/index.ts'
import { SCHEMAS } from '../src/schemas.ts'
import type { LoadDevice } from './load-client.ts'

const NODES = Number(process.env.BENCH_MEM_NODES ?? 10_000)
const STEP = Number(process.env.BENCH_MEM_STEP ?? 2_000)
const PROCS = 2

const mb = (n: number) => Math.round((n / 2 ** 20) * 10) / 10

function fleetDir(): string {
  const root = path.join(os.tmpdir(), 'kampung-bench-fleet')
  const dirs = readdirSync(root)
    .map((d) => path.join(root, d))
    .filter((d) => {
      try {
        return JSON.parse(readFileSync(path.join(d, 'devices.json'), 'utf8')).devices.length >= NODES
      } catch {
        return false
      }
    })
  if (!dirs.length) throw new Error('no cached district fleet: run bench/district.ts once')
  return dirs[0]!
}

async function client(): Promise<void> {
  let devices: LoadDevice[] = []
  let port = 0
  const sockets: net.Socket[] = []
  process.on('message', async (m: { devices?: LoadDevice[]; port?: number; count?: number }) => {
    if (m.devices) {
      devices = m.devices
      port = m.port!
      process.send!('ok')
      return
    }
    const batch = devices.splice(0, m.count)
    await Promise.all(
      batch.map(
        (d) =>
          new Promise<void>((resolve, reject) => {
            const s = net.connect(port, '127.0.0.1', () =>
              s.write(
                mqttPacket.generate({
                  cmd: 'connect',
                  protocolId: 'MQTT',
                  protocolVersion: 4,
                  clean: true,
                  clientId: d.id,
                  keepalive: 600,
                  username: d.id,
                  password: Buffer.from(d.secret),
                }),
              ),
            )
            s.once('data', (b) => (b[0] === 0x20 && b[3] === 0 ? resolve() : reject(new Error('refused'))))
            s.on('error', reject)
            sockets.push(s)
          }),
      ),
    )
    process.send!('ok')
  })
}

async function main(): Promise<void> {
  const dir = fleetDir()
  const devices = JSON.parse(readFileSync(path.join(dir, 'devices.json'), 'utf8')).devices as LoadDevice[]
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'kampung-mem-'))
  copyFileSync(path.join(dir, 'registry.db'), path.join(tmp, 'registry.db'))
  const registry = new Registry({ path: path.join(tmp, 'registry.db'), schemas: SCHEMAS })
  await registry.start()
  const broker = new Broker({ registry, port: 0, host: '127.0.0.1', onUplink: (_d, _t, _p, done) => done() })
  await broker.start()
  const kids = Array.from({ length: PROCS }, (_, i) => {
    const kid = fork(import.meta.filename, ['client'], { execArgv: ['--import', 'tsx'] })
    return { kid, mine: devices.slice(0, NODES).filter((_, d) => d % PROCS === i) }
  })
  const ask = (kid: ReturnType<typeof fork>, m: object) =>
    new Promise<void>((resolve) => {
      kid.once('message', () => resolve())
      kid.send(m)
    })
  await Promise.all(kids.map(({ kid, mine }) => ask(kid, { devices: mine, port: broker.port })))
  const measure = () => {
    for (let i = 0; i < 3; i++) globalThis.gc?.()
    const m = process.memoryUsage()
    return {
      rss: mb(m.rss),
      heapUsed: mb(m.heapUsed),
      heapTotal: mb(m.heapTotal),
      external: mb(m.external),
      arrayBuffers: mb(m.arrayBuffers),
    }
  }
  const rows = [{ connected: 0, ...measure() }]
  for (let done = 0; done < NODES; done += STEP) {
    await Promise.all(kids.map(({ kid }) => ask(kid, { count: STEP / PROCS })))
    await new Promise((r) => setTimeout(r, 500))
    rows.push({ connected: done + STEP, ...measure() })
    console.log(JSON.stringify(rows.at(-1)))
  }
  const first = rows[1]!
  const last = rows.at(-1)!
  const n = last.connected - first.connected
  const per = (k: 'rss' | 'heapUsed' | 'external' | 'arrayBuffers') =>
    Math.round(((last[k] - first[k]) * 1024 * 1024) / n)
  console.log(
    `per connection (bytes): rss ${per('rss')}, heapUsed ${per('heapUsed')}, external ${per('external')}, arrayBuffers ${per('arrayBuffers')}`,
  )
  if (process.env.BENCH_MEM_SNAPSHOT)
    console.log(`snapshot ${v8.writeHeapSnapshot(process.env.BENCH_MEM_SNAPSHOT)}`)
  for (const { kid } of kids) kid.kill()
  await broker.stop()
  await registry.stop()
  rmSync(tmp, { recursive: true, force: true })
}

if (process.argv[2] === 'client') client()
else
  main().catch((err) => {
    console.error(err)
    process.exit(1)
  })
