import { spawnSync } from 'node:child_process'
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import mqtt from 'mqtt'
import { afterAll, describe, expect, it } from 'vitest'
import { startApp, type TestApp, waitFor } from '../harness/app.ts'
import { type InfluxdHandle, startInfluxd } from '../harness/influxd.ts'
import { influxQuery } from '../harness/influxql.ts'

/**
 * A full disk (issue 18): the service's data dir on a small tmpfs, filled to the last byte by a
 * filler file, then freed. With the embedded SQLite store and with InfluxDB (spool and registry
 * on the full disk, influxd on another): /health says degraded, nothing acknowledged is lost,
 * ingest resumes as soon as the disk or InfluxDB allows, and every stored reading reaches the
 * alerts engine once there is space again.
 */

const V = 'kemiren'
const MINUTE_MS = 60_000
const mounts: string[] = []

afterAll(() => {
  for (const dir of mounts.splice(0)) {
    spawnSync('umount', ['-l', dir])
    rmSync(dir, { recursive: true, force: true })
  }
})

/** A fresh tmpfs of `sizeMb`; fails the test (never skips it) when it cannot be mounted. */
function tmpfs(sizeMb: number): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kampung-full-'))
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMb}m,mode=0700`, 'tmpfs', dir], {
    encoding: 'utf8',
  })
  if (r.status !== 0)
    throw new Error(
      `cannot mount a ${sizeMb} MB tmpfs on ${dir} to simulate a full disk (needs root): ${r.stderr || r.error}`,
    )
  mounts.push(dir)
  return dir
}

/** Fills the file system of `dir` to the last byte; returns the filler to delete. */
function fill(dir: string): string {
  const file = path.join(dir, 'filler')
  const fd = openSync(file, 'w')
  for (const size of [1 << 20, 4096, 64]) {
    const chunk = Buffer.alloc(size, 0x5a)
    try {
      for (;;) writeSync(fd, chunk)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err
    }
  }
  closeSync(fd)
  return file
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** A device that publishes one reading at QoS 1 and, like a real one, sends it again until acknowledged. */
class Device {
  readonly acked: number[] = []
  constructor(
    private readonly t: TestApp,
    readonly id: string,
    private readonly secret: string,
  ) {}

  /** One attempt: true when the PUBACK came within `timeoutMs`. */
  async tryOnce(timeMs: number, timeoutMs = 2_000): Promise<boolean> {
    const client = mqtt.connect(`mqtt://127.0.0.1:${this.t.mqttPort}`, {
      clientId: this.id,
      username: this.id,
      password: this.secret,
      reconnectPeriod: 0,
      connectTimeout: timeoutMs,
    })
    try {
      await new Promise<void>((resolve, reject) => {
        client.once('connect', () => resolve())
        client.once('error', reject)
        client.once('close', () => reject(new Error('closed')))
      })
      const body = JSON.stringify({ ts: timeMs, values: { soil_moisture: 20 + ((timeMs / MINUTE_MS) % 10) } })
      await Promise.race([
        client.publishAsync(`kampung/${V}/${this.id}/up`, body, { qos: 1 }),
        new Promise((_, reject) => {
          setTimeout(() => reject(new Error('no PUBACK')), timeoutMs)
          client.once('close', () => reject(new Error('closed')))
        }),
      ])
      this.acked.push(timeMs)
      return true
    } catch {
      return false
    } finally {
      client.end(true)
    }
  }

  /** Sends until acknowledged; resolves with the time of the PUBACK. */
  async deliver(timeMs: number, giveUpMs = 40_000): Promise<number> {
    const deadline = Date.now() + giveUpMs
    while (!(await this.tryOnce(timeMs))) {
      if (Date.now() > deadline) throw new Error(`${this.id}: reading ${timeMs} never acknowledged`)
      await sleep(250)
    }
    return Date.now()
  }
}

interface Health {
  status: string
  storeWrites?: { code: string }
  spool?: { readings: number; peer?: unknown; localDisk?: { error: string }; undeletedBatches: number }
  alertEvaluation?: { readings: number; error?: string }
}

async function health(t: TestApp): Promise<Health> {
  return (await (await fetch(`${t.apiUrl}/health`)).json()) as Health
}

async function degradedGauge(t: TestApp): Promise<number> {
  const text = await (await fetch(`${t.apiUrl}/metrics`)).text()
  return Number(/^kampung_health_degraded (\d+)$/m.exec(text)?.[1])
}

/** The reading times the alerts engine has remembered (evaluated) for a device. */
/** The reading times the alerts engine evaluated: what its rules look back on (history.ts). */
function evaluatedTimes(t: TestApp, device: string): number[] {
  return t.app.alerts!.historyTimes(device, 'soil_moisture')
}

const sorted = (xs: number[]) => [...new Set(xs)].sort((a, b) => a - b)

describe('a full disk', () => {
  it('embedded SQLite store: refused while full, degraded, resumes when freed, nothing acknowledged lost, all evaluated', async () => {
    const dataDir = tmpfs(24)
    const t = await startApp({ store: { kind: 'sqlite' } }, dataDir)
    try {
      const dev = new Device(t, 'soil-01', await t.addDevice({ id: 'soil-01', village: V }))
      const base = Date.now() - 6 * 60 * MINUTE_MS
      let next = 0
      const at = () => base + next++ * MINUTE_MS // one minute apart: the engine keeps each
      for (let i = 0; i < 10; i++) await dev.deliver(at())
      expect((await health(t)).status).toBe('ok')

      const filler = fill(dataDir)
      // Refused while full: not acknowledged (a resend comes later); /health and the gauge say so.
      const during: number[] = []
      let refusedAt: number | undefined
      for (let i = 0; i < 30 && refusedAt === undefined; i++) {
        const timeMs = at()
        during.push(timeMs)
        if (!(await dev.tryOnce(timeMs))) refusedAt = timeMs
      }
      expect(refusedAt, 'a write on the full disk was refused').toBeDefined()
      const h = await health(t)
      expect(h.status).toBe('degraded')
      expect(h.storeWrites?.code).toBe('disk_full')
      expect(await degradedGauge(t)).toBe(1)
      const metrics = await (await fetch(`${t.apiUrl}/metrics`)).text()
      expect(metrics).toMatch(/kampung_store_write_failures_total\{code="disk_full"\} [1-9]/)

      // The device keeps resending; space comes back: acknowledged within seconds.
      const resend = Promise.all(during.filter((x) => !dev.acked.includes(x)).map((x) => dev.deliver(x)))
      await sleep(1_500)
      const freedAt = Date.now()
      rmSync(filler)
      const ackTimes = await resend
      expect(Math.max(...ackTimes) - freedAt).toBeLessThan(10_000)
      for (let i = 0; i < 5; i++) await dev.deliver(at())

      await waitFor('health ok', async () => (await health(t)).status === 'ok', 20_000)
      expect(await degradedGauge(t)).toBe(0)
      // Nothing acknowledged is lost; every stored reading was evaluated by the alerts engine.
      const stored = (await t.app.store.query({ quantity: 'soil_moisture', device: 'soil-01' })).map(
        (r) => r.timeMs,
      )
      expect(stored).toEqual(expect.arrayContaining(dev.acked))
      await waitFor(
        'every stored reading evaluated',
        () => evaluatedTimes(t, 'soil-01').length >= stored.length,
      )
      expect(evaluatedTimes(t, 'soil-01')).toEqual(sorted(stored))
    } finally {
      await t.stop()
    }
  }, 60_000)

  it('InfluxDB store: local disk full never blocks a healthy InfluxDB; resumes when either allows; all evaluated', async () => {
    const dataDir = tmpfs(24)
    const influxDir = mkdtempSync(path.join(os.tmpdir(), 'kampung-influx-'))
    mkdirSync(influxDir, { recursive: true })
    const influx: InfluxdHandle = await startInfluxd()
    const t = await startApp(
      {
        store: { kind: 'influx', influx: { url: influx.url, database: 'kampung', requestTimeoutMs: 2_000 } },
      },
      dataDir,
    )
    try {
      const dev = new Device(t, 'soil-02', await t.addDevice({ id: 'soil-02', village: V }))
      const base = Date.now() - 6 * 60 * MINUTE_MS
      let next = 0
      const at = () => base + next++ * MINUTE_MS
      for (let i = 0; i < 5; i++) await dev.deliver(at())

      // 1. Local disk full, InfluxDB up: still acknowledged (straight to InfluxDB); alert evaluation
      // of these stored readings fails (the registry is on the full disk) and waits.
      let filler = fill(dataDir)
      for (let i = 0; i < 5; i++) expect(await dev.tryOnce(at()), 'acknowledged with InfluxDB up').toBe(true)
      await waitFor(
        'alert evaluation waiting',
        async () => ((await health(t)).alertEvaluation?.readings ?? 0) > 0,
      )
      expect((await health(t)).status).toBe('degraded')

      // 2. InfluxDB down too: nowhere to keep them, refused (not acknowledged).
      await influx.kill('SIGKILL')
      const whileDown = at()
      expect(await dev.tryOnce(whileDown, 4_000)).toBe(false)
      let h = await health(t)
      expect(h.status).toBe('degraded')
      expect(h.spool?.localDisk?.error).toMatch(/spool .*full/)

      // 3. InfluxDB back, disk still full: acknowledged again as soon as InfluxDB answers.
      await influx.restart()
      const back = Date.now()
      await dev.deliver(whileDown)
      expect(Date.now() - back).toBeLessThan(10_000)

      // 4. The reported case: InfluxDB down with space (the spool takes the readings), then the
      // disk fills, then InfluxDB comes back: the spool drains but cannot delete its rows; that
      // must not block direct writes, and the fault is the local disk's, not InfluxDB's.
      rmSync(filler)
      await influx.kill('SIGKILL')
      for (let i = 0; i < 5; i++) await dev.deliver(at()) // spooled
      expect((await health(t)).spool?.readings).toBeGreaterThan(0)
      filler = fill(dataDir)
      await influx.restart()
      // From here on, what the spool logs must blame the local disk, never InfluxDB.
      const logged: string[] = []
      const storeLog = (t.app.store as unknown as { log: Record<string, (o: unknown, m?: string) => void> })
        .log
      for (const level of ['warn', 'error', 'info'] as const)
        storeLog[level] = (_o: unknown, m?: string) => {
          logged.push(`${level}: ${m}`)
        }
      for (let i = 0; i < 5; i++) await dev.deliver(at(), 15_000)
      await waitFor(
        'spool drained into InfluxDB',
        async () => (await health(t)).spool?.readings === 0,
        30_000,
      )
      h = await health(t)
      // Drained into InfluxDB but not deleted: the fault is the spool's disk, not the peer.
      expect(h.spool?.peer).toBeUndefined()
      expect(h.spool?.undeletedBatches).toBeGreaterThan(0)
      expect(h.spool?.localDisk?.error).toMatch(/spool\.sqlite: database or disk is full/)
      expect(logged).toContain('error: spool file cannot be written (local disk, not influxdb)')
      expect(logged.filter((l) => /unreachable/.test(l))).toEqual([])
      expect(h.status).toBe('degraded') // the local disk still cannot delete or evaluate

      // 5. Space again: spool rows deleted, every stored reading evaluated, health ok.
      rmSync(filler)
      for (let i = 0; i < 3; i++) await dev.deliver(at())
      await waitFor('health ok', async () => (await health(t)).status === 'ok', 30_000)
      h = await health(t)
      expect(h.spool).toMatchObject({ readings: 0, undeletedBatches: 0 })
      expect(await degradedGauge(t)).toBe(0)
      const stored = (
        await influxQuery(
          influx.url,
          'kampung',
          `SELECT "value" FROM "kampung"."raw"."soil_moisture" WHERE "device" = 'soil-02'`,
        )
      ).map((r) => r.time as number)
      expect(stored).toEqual(expect.arrayContaining(dev.acked))
      await waitFor(
        'every stored reading evaluated',
        () => evaluatedTimes(t, 'soil-02').length >= stored.length,
        30_000,
      )
      expect(evaluatedTimes(t, 'soil-02')).toEqual(sorted(stored))
    } finally {
      await t.stop()
      await influx.stop()
      rmSync(influxDir, { recursive: true, force: true })
    }
  }, 90_000)
})
