import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { Worker } from 'node:worker_threads'
import Database from 'better-sqlite3'
import mqtt, { type MqttClient } from 'mqtt'
import mqttPacket from 'mqtt-packet'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { hashSecret, Registry } from '../../src/registry/index.ts'
import { SCHEMAS } from '../../src/schemas.ts'
import { topics } from '../../src/telemetry/index.ts'
import { freePort } from '../harness/ports.ts'
import { type KampungProcess, serviceEnv, spawnKampung } from '../harness/process.ts'

const V = 'licin'
const KNOWN = 60
const LEGACY = 30

interface ConnectResult {
  /** CONNACK return code, or 'closed' when the socket ended without one. */
  code: number | 'closed'
  /** From writing CONNECT to the CONNACK (or close), ms. */
  ms: number
  socket: net.Socket
}

/** One raw MQTT 3.1.1 CONNECT, as a node (or an attacker) sends it; the socket stays open on success. */
function connectOnce(
  port: number,
  o: { clientId: string; username: string; password: string; localAddress?: string } | { packet: Buffer },
): Promise<ConnectResult> {
  return new Promise((resolve) => {
    const socket = net.connect({
      port,
      host: '127.0.0.1',
      localAddress: 'localAddress' in o ? o.localAddress : undefined,
    })
    let startedAt = 0
    let done = false
    const finish = (code: number | 'closed') => {
      if (done) return
      done = true
      resolve({ code, ms: performance.now() - startedAt, socket })
    }
    socket.on('error', () => finish('closed'))
    socket.on('close', () => finish('closed'))
    socket.once('connect', () => {
      const packet = 'packet' in o ? o.packet : connectPacket(o)
      startedAt = performance.now()
      socket.write(packet)
    })
    let buffered = Buffer.alloc(0)
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk])
      if (buffered.length >= 4 && buffered[0] === 0x20) finish(buffered[3]!)
    })
  })
}

function connectPacket(o: { clientId: string; username: string; password: string }): Buffer {
  return mqttPacket.generate({
    cmd: 'connect',
    protocolId: 'MQTT',
    protocolVersion: 4,
    clean: true,
    keepalive: 60,
    clientId: o.clientId,
    username: o.username,
    password: Buffer.from(o.password),
  })
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!
}

/** Two-sample Kolmogorov–Smirnov statistic D: the largest gap between the two empirical CDFs. */
function ksStatistic(a: number[], b: number[]): number {
  const xs = [...a].sort((x, y) => x - y)
  const ys = [...b].sort((x, y) => x - y)
  let i = 0
  let j = 0
  let d = 0
  while (i < xs.length && j < ys.length) {
    const v = Math.min(xs[i]!, ys[j]!)
    while (i < xs.length && xs[i]! <= v) i++
    while (j < ys.length && ys[j]! <= v) j++
    d = Math.max(d, Math.abs(i / xs.length - j / ys.length))
  }
  return d
}

/** Critical D of the two-sample KS test at significance alpha (asymptotic formula). */
function ksCritical(n: number, m: number, alpha: number): number {
  return Math.sqrt(-Math.log(alpha / 2) / 2) * Math.sqrt((n + m) / (n * m))
}

/**
 * Bad CONNECTs at `ratePerS` (each on its own socket, as aedes closes a refused client) until
 * `total` or `maxMs`; posts `{ attempts, codes }` (CONNACK return code → count). Plain JS: it runs
 * in a worker thread.
 */
const FLOOD_WORKER = `
const { parentPort, workerData } = require('node:worker_threads')
const net = require('node:net')
const { port, packets, total, ratePerS, maxMs } = workerData
const codes = {}
let attempts = 0
let inFlight = 0
const started = Date.now()
const one = (packet) => new Promise((resolve) => {
  const socket = net.connect({ port, host: '127.0.0.1' })
  let done = false
  const finish = (code) => {
    if (done) return
    done = true
    codes[code] = (codes[code] || 0) + 1
    socket.destroy()
    resolve()
  }
  socket.on('error', () => finish('closed'))
  socket.on('close', () => finish('closed'))
  socket.once('connect', () => socket.write(Buffer.from(packet)))
  let got = Buffer.alloc(0)
  socket.on('data', (chunk) => {
    got = Buffer.concat([got, chunk])
    if (got.length >= 4 && got[0] === 0x20) finish(String(got[3]))
  })
})
const pending = new Set()
const tick = () => {
  const due = Math.min(total, Math.floor(((Date.now() - started) * ratePerS) / 1000))
  while (attempts < due && inFlight < 400) {
    const p = one(packets[attempts++ % packets.length]).then(() => { inFlight--; pending.delete(p) })
    inFlight++
    pending.add(p)
  }
  if (attempts < total && Date.now() - started < maxMs) setTimeout(tick, 5)
  else Promise.all(pending).then(() => parentPort.postMessage({ attempts, codes }))
}
tick()
`

/** utime + stime of a process, in seconds (Linux /proc). */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
  return (Number(fields[11]) + Number(fields[12])) / 100
}

/**
 * Device authentication against `kampung up` in its own process (embedded broker, SQLite store),
 * with the default limits: a flood of bad CONNECTs, refusal timing of known and unknown ids,
 * legacy scrypt hashes and the per-device connection cap.
 */
describe('device authentication limits (kampung up, real broker)', () => {
  let dataDir: string
  let app: KampungProcess
  let mqttPort: number
  let apiPort: number
  const secrets = new Map<string, string>()
  const openSockets: net.Socket[] = []
  const clients: MqttClient[] = []

  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'kampung-auth-'))
    const registry = new Registry({ path: path.join(dataDir, 'registry.db'), schemas: SCHEMAS })
    await registry.start()
    registry.addVillage({ id: V, name: 'Licin' })
    const add = async (id: string, kind: 'soil' | 'service' = 'soil') => {
      const { secret } = await registry.addDevice({ id, village: V, kind, format: 'json' })
      secrets.set(id, secret)
    }
    for (const id of ['good-1', 'good-2', 'capped']) await add(id)
    await add('svc', 'service')
    for (let i = 0; i < KNOWN; i++) await add(`known-${i}`)
    // Devices registered by the old code: their secrets stored as scrypt N=1024 hashes.
    const db = registry.database()
    for (let i = 0; i < LEGACY; i++) {
      const id = `legacy-${i}`
      await add(id)
      const secret = `legacy-secret-${i}-${Math.random()}`
      secrets.set(id, secret)
      db.prepare('UPDATE devices SET secret_hash = ? WHERE id = ?').run(await hashSecret(secret), id)
    }
    await registry.stop()
    mqttPort = await freePort()
    apiPort = await freePort()
    app = spawnKampung(['up'], serviceEnv({ dataDir, mqttPort, apiPort }))
    await app.waitForOutput(/smart-kampung running/)
  }, 60_000)

  afterAll(async () => {
    for (const s of openSockets) s.destroy()
    await Promise.all(clients.map((c) => c.endAsync().catch(() => {})))
    await app?.kill('SIGTERM')
    rmSync(dataDir, { recursive: true, force: true })
  })

  const storedHash = (id: string) => {
    const db = new Database(path.join(dataDir, 'registry.db'), { readonly: true })
    try {
      return (db.prepare('SELECT secret_hash FROM devices WHERE id = ?').get(id) as { secret_hash: string })
        .secret_hash
    } finally {
      db.close()
    }
  }

  it('refuses an unknown id and a known id with a wrong secret in indistinguishable time', async () => {
    // Each id once (so no per-id budget is touched), spread over source addresses (the per-address
    // budget is 60 failures), interleaved so drift in machine load hits every group alike.
    const attempts: Array<{
      group: 'unknown' | 'known' | 'legacy' | 'accepted'
      id: string
      secret: string
    }> = []
    for (let i = 0; i < KNOWN; i++) {
      attempts.push({ group: 'unknown', id: `ghost-${i}`, secret: secrets.get('good-1')! })
      attempts.push({ group: 'known', id: `known-${i}`, secret: `${secrets.get(`known-${i}`)!}x` })
    }
    for (let i = 0; i < LEGACY; i++) {
      attempts.push({ group: 'legacy', id: `legacy-${i}`, secret: 'not-the-secret' })
      attempts.push({ group: 'accepted', id: `known-${i}`, secret: secrets.get(`known-${i}`)! })
    }
    attempts.sort(() => Math.random() - 0.5)
    const times: Record<string, number[]> = { unknown: [], known: [], legacy: [], accepted: [] }
    for (const [n, a] of attempts.entries()) {
      const r = await connectOnce(mqttPort, {
        clientId: a.id,
        username: a.id,
        password: a.secret,
        localAddress: `127.0.1.${1 + (n % 8)}`,
      })
      r.socket.destroy()
      expect(r.code, `${a.group} ${a.id}`).toBe(a.group === 'accepted' ? 0 : 4)
      times[a.group]!.push(r.ms)
    }
    const summary = Object.fromEntries(
      Object.entries(times).map(([g, t]) => [
        g,
        { p10: percentile(t, 10), p50: percentile(t, 50), p90: percentile(t, 90) },
      ]),
    )
    const dKnown = ksStatistic(times.unknown!, times.known!)
    const dLegacy = ksStatistic(times.unknown!, times.legacy!)
    const dAccepted = ksStatistic(times.unknown!, times.accepted!)
    console.log('refusal times, ms', JSON.stringify(summary), { dKnown, dLegacy, dAccepted })
    // alpha 0.001: a false alarm once in a thousand runs
    expect(dKnown).toBeLessThan(ksCritical(KNOWN, KNOWN, 0.001))
    expect(dLegacy).toBeLessThan(ksCritical(KNOWN, LEGACY, 0.001))
    expect(Math.abs(summary.unknown!.p50 - summary.known!.p50)).toBeLessThan(3)
    // The same test does tell different distributions apart: accepted CONNECTs are not delayed.
    expect(dAccepted).toBeGreaterThan(ksCritical(KNOWN, LEGACY, 0.001))
    expect(summary.unknown!.p10).toBeGreaterThanOrEqual(49) // refusalMinMs 50
  })

  it('keeps old scrypt-hashed secrets working (MQTT and HTTP) and rewrites them as HMAC', async () => {
    expect(storedHash('legacy-0')).toMatch(/^scrypt\$1024\$8\$1\$/) // a wrong secret changed nothing
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${mqttPort}`, {
      clientId: 'legacy-0',
      username: 'legacy-0',
      password: secrets.get('legacy-0'),
      reconnectPeriod: 0,
    })
    clients.push(client)
    await client.publishAsync(
      topics.up(V, 'legacy-0'),
      JSON.stringify({ ts: Date.UTC(2026, 10, 20), values: { soil_moisture: 31 } }),
      { qos: 1 },
    )
    expect(storedHash('legacy-0')).toMatch(/^hmac-sha256\$/)
    await client.endAsync()
    // again, now on the HMAC hash; and over HTTP for another legacy device
    const again = await connectOnce(mqttPort, {
      clientId: 'legacy-0',
      username: 'legacy-0',
      password: secrets.get('legacy-0')!,
      localAddress: '127.0.2.1',
    })
    again.socket.destroy()
    expect(again.code).toBe(0)
    const res = await fetch(`http://127.0.0.1:${apiPort}/api/v1/telemetry`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Basic ${Buffer.from(`legacy-1:${secrets.get('legacy-1')}`).toString('base64')}`,
      },
      body: JSON.stringify({ ts: Date.UTC(2026, 10, 20), values: { soil_moisture: 32 } }),
    })
    expect(res.status).toBe(200)
    expect(storedHash('legacy-1')).toMatch(/^hmac-sha256\$/)
    const wrong = await connectOnce(mqttPort, {
      clientId: 'legacy-1',
      username: 'legacy-1',
      password: `${secrets.get('legacy-1')}x`,
      localAddress: '127.0.2.1',
    })
    expect(wrong.code).toBe(4)
  })

  it('caps the connections of one credential (a copied secret cannot hold 2 000)', async () => {
    const secret = secrets.get('capped')!
    const codes: Array<number | 'closed'> = []
    for (let i = 0; i < 40; i++) {
      const r = await connectOnce(mqttPort, { clientId: `capped:${i}`, username: 'capped', password: secret })
      openSockets.push(r.socket)
      codes.push(r.code)
    }
    expect(codes.filter((c) => c === 0)).toHaveLength(8)
    expect(codes.slice(8).every((c) => c === 3)).toBe(true)
    // The same client id again is a takeover (aedes drops the old one), not a ninth connection:
    // a node reconnecting over a half-open socket gets in.
    const takeover = await connectOnce(mqttPort, {
      clientId: 'capped:3',
      username: 'capped',
      password: secret,
    })
    openSockets.push(takeover.socket)
    expect(takeover.code).toBe(0)
    // One closed: room for another.
    openSockets[0]!.destroy()
    await new Promise((r) => setTimeout(r, 200))
    const next = await connectOnce(mqttPort, { clientId: 'capped:new', username: 'capped', password: secret })
    openSockets.push(next.socket)
    expect(next.code).toBe(0)
    const metrics = await (await fetch(`http://127.0.0.1:${apiPort}/metrics`)).text()
    expect(metrics).toMatch(/kampung_broker_refusals_total\{cause="device_connection_cap"\} 32/)
    // A service account is shared by ingest and state workers: not capped.
    for (let i = 0; i < 12; i++) {
      const r = await connectOnce(mqttPort, {
        clientId: `svc-${i}`,
        username: 'svc',
        password: secrets.get('svc')!,
      })
      openSockets.push(r.socket)
      expect(r.code).toBe(0)
    }
  })

  it('throttles a flood of bad CONNECTs while a good device keeps its PUBACKs flowing', async () => {
    const good = await mqtt.connectAsync(`mqtt://127.0.0.1:${mqttPort}`, {
      clientId: 'good-1',
      username: 'good-1',
      password: secrets.get('good-1'),
      reconnectPeriod: 0,
    })
    clients.push(good)
    const state: { phase: 'baseline' | 'flood' | 'done' } = { phase: 'baseline' }
    const latencies: Record<'baseline' | 'flood', number[]> = { baseline: [], flood: [] }
    let sent = 0
    const publishing = (async () => {
      const pending: Promise<void>[] = []
      while (state.phase !== 'done') {
        const p = state.phase
        const i = sent++
        const t0 = performance.now()
        pending.push(
          good
            .publishAsync(
              topics.up(V, 'good-1'),
              JSON.stringify({ ts: Date.UTC(2026, 10, 21) + i * 1000, values: { soil_moisture: 30 } }),
              { qos: 1 },
            )
            .then(() => {
              latencies[p].push(performance.now() - t0)
            }),
        )
        await new Promise((r) => setTimeout(r, 20))
      }
      await Promise.all(pending)
    })()
    await new Promise((r) => setTimeout(r, 2000))

    // good-2 has connected from its address before; the flood then spends good-2's own budget.
    const good2 = (localAddress: string) =>
      connectOnce(mqttPort, {
        clientId: 'good-2',
        username: 'good-2',
        password: secrets.get('good-2')!,
        localAddress,
      }).then((r) => {
        r.socket.destroy()
        return r.code
      })
    expect(await good2('127.0.3.1')).toBe(0)

    // The flood: bad CONNECTs (made-up ids, and good-2 with wrong secrets) aimed at 1 000/s from
    // one address, for 4 000 attempts or 10 s. Packets are made beforehand: the generator shares
    // this machine's two cores with the service.
    const packets = Array.from({ length: 200 }, (_, n) =>
      connectPacket({
        clientId: `x-${n}`,
        username: n % 2 ? `ghost-flood-${n}` : 'good-2',
        password: 'guess',
      }),
    )
    const pid = app.child.pid!
    const cpuBefore = cpuSeconds(pid)
    const floodStarted = performance.now()
    state.phase = 'flood'
    // In a worker thread: the good device's PUBACK times are taken on this thread's event loop,
    // which must not be the one busy opening sockets.
    const flood = new Worker(FLOOD_WORKER, {
      eval: true,
      workerData: { port: mqttPort, packets, total: 4000, ratePerS: 1000, maxMs: 10_000 },
    })
    const flooded = new Promise<{ attempts: number; codes: Record<string, number> }>((resolve, reject) => {
      flood.once('message', resolve)
      flood.once('error', reject)
    })
    await new Promise((r) => setTimeout(r, 1500))
    // In the middle of it good-2 connects from its usual address; from a new one its id's
    // budget, spent by the flood, applies (the secret is not even checked).
    const goodDuringFlood = await good2('127.0.3.1')
    const goodFromNewAddress = await good2('127.0.3.2')
    const { attempts, codes } = await flooded
    await flood.terminate()
    const floodS = (performance.now() - floodStarted) / 1000
    const serviceCpuS = cpuSeconds(pid) - cpuBefore
    state.phase = 'done'
    await publishing

    const throttled = codes['3'] ?? 0
    const checked = codes['4'] ?? 0
    const figures = {
      attempts,
      perS: Math.round(attempts / floodS),
      throttled,
      checked,
      closed: codes.closed ?? 0,
      serviceCpuCores: Number((serviceCpuS / floodS).toFixed(2)),
      serviceCpuUsPerAttempt: Math.round((serviceCpuS * 1e6) / attempts),
      pubackMs: {
        baseline: {
          n: latencies.baseline.length,
          p50: percentile(latencies.baseline, 50),
          p99: percentile(latencies.baseline, 99),
        },
        flood: {
          n: latencies.flood.length,
          p50: percentile(latencies.flood, 50),
          p99: percentile(latencies.flood, 99),
        },
      },
    }
    console.log('bad CONNECT flood', JSON.stringify(figures))
    expect(attempts).toBeGreaterThanOrEqual(1000)
    // 60 failures of burst plus one a second regained: the rest refused without a check
    expect(checked).toBeLessThanOrEqual(60 + Math.ceil(floodS) + 2)
    // refused unchecked: a CONNACK 3 while the budget runs out, then the socket closed at accept
    expect(throttled + (codes.closed ?? 0)).toBeGreaterThan(attempts * 0.9)
    expect(goodDuringFlood).toBe(0)
    expect(goodFromNewAddress).toBe(3)
    // Every publish acknowledged, the good device never dropped, and its p99 within bounds.
    expect(latencies.baseline.length + latencies.flood.length).toBe(sent)
    expect(good.connected).toBe(true)
    expect(figures.pubackMs.flood.p99).toBeLessThan(Math.max(300, 5 * figures.pubackMs.baseline.p99))
    // What the service spent per bad CONNECT (its own CPU time, whatever else runs here): at
    // 1 000 a second, under half of one core, so neither core is pinned.
    expect((serviceCpuS * 1e6) / attempts).toBeLessThan(500)
  }, 30_000)
})
