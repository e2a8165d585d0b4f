import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Registry } from '../../src/registry/index.ts'
import { SCHEMAS } from '../../src/schemas.ts'
import { waitFor } from '../harness/app.ts'
import { type InfluxdHandle, startInfluxd } from '../harness/influxd.ts'
import { influxCount } from '../harness/influxql.ts'
import { type MosquittoHandle, startMosquitto } from '../harness/mosquitto.ts'
import { freePort } from '../harness/ports.ts'
import { type KampungProcess, spawnKampung } from '../harness/process.ts'
import { runFleet } from '../harness/publishers.ts'

const V = 'licin'
const QUANTITIES = ['soil_moisture', 'soil_temperature', 'battery_voltage', 'signal_strength']
const DEVICES = 10
/** 10 devices × 1 250 reports × 4 readings = 50 000 readings per run. */
const REPORTS_PER_DEVICE = 1250
const READINGS_PER_RUN = DEVICES * REPORTS_PER_DEVICE * QUANTITIES.length

/**
 * Several ingest workers split the load through an MQTT 5 shared subscription on Mosquitto 2.0.
 * Mosquitto keeps a dead worker's share queued in its persistent session (it does not hand it to
 * the others, and drops it if the session expires), so the documented recovery is the supervisor
 * (systemd Restart=always) bringing the worker back under the same client id, on the same or
 * another machine: the session, and the share queued in it, belong to the client id.
 */
describe('ingest workers on a Mosquitto shared subscription', () => {
  let influx: InfluxdHandle
  let mosquitto: MosquittoHandle
  const root = mkdtempSync(path.join(os.tmpdir(), 'kampung-shared-'))
  const registryPath = path.join(root, 'registry.db')
  const workers: KampungProcess[] = []

  beforeAll(async () => {
    ;[influx, mosquitto] = await Promise.all([startInfluxd(), startMosquitto()])
    const registry = new Registry({ path: registryPath, schemas: SCHEMAS })
    await registry.start()
    registry.addVillage({ id: V, name: 'Licin' })
    for (let i = 0; i < DEVICES; i++)
      await registry.addDevice({ id: `s-${i}`, village: V, kind: 'soil', format: 'json' })
    await registry.stop()
  }, 60_000)

  afterAll(async () => {
    for (const w of workers) await w.kill('SIGKILL')
    await mosquitto?.stop()
    await influx?.stop()
    rmSync(root, { recursive: true, force: true })
  })

  /** One worker process; `machine` names its data dir (its spool), as on its own host. */
  const startWorker = async (
    database: string,
    clientId: string,
    machine: string,
    apiPort?: number,
    env: Record<string, string> = {},
  ) => {
    const w = spawnKampung(apiPort ? ['ingest', '--api'] : ['ingest'], {
      KAMPUNG_DATA_DIR: path.join(root, machine),
      KAMPUNG_REGISTRY_PATH: registryPath,
      KAMPUNG_INFLUX_URL: influx.url,
      KAMPUNG_INFLUX_DATABASE: database,
      KAMPUNG_INGEST_MQTT_URL: mosquitto.url,
      KAMPUNG_INGEST_MQTT_CLIENT_ID: clientId,
      KAMPUNG_INGEST_MQTT_SHARED_GROUP: database, // a group per run: runs do not share sessions
      ...(apiPort ? { KAMPUNG_API_HOST: '127.0.0.1', KAMPUNG_API_PORT: String(apiPort) } : {}),
      ...env,
    })
    workers.push(w)
    await w.waitForOutput(/ingest subscribed|broker connection back/)
    return w
  }

  const counts = (database: string) =>
    Promise.all(QUANTITIES.map((q) => influxCount(influx.url, database, q).catch(() => 0)))

  const expectExactlyOnce = async (database: string) => {
    const perQuantity = READINGS_PER_RUN / QUANTITIES.length
    await waitFor(
      'every reading stored',
      async () => (await counts(database)).every((n) => n >= perQuantity),
      60_000,
    )
    expect(await counts(database)).toEqual(QUANTITIES.map(() => perQuantity))
  }

  const fleet = (baseTimeMs: number, onProgress?: (acked: number) => void) =>
    runFleet({
      url: mosquitto.url,
      village: V,
      devices: Array.from({ length: DEVICES }, (_, i) => ({ id: `s-${i}` })),
      messagesPerDevice: REPORTS_PER_DEVICE,
      baseTimeMs,
      protocolVersion: 5,
      onProgress,
    })

  const acceptedBy = async (apiPort: number): Promise<number> => {
    const text = await (await fetch(`http://127.0.0.1:${apiPort}/metrics`)).text()
    return [...text.matchAll(/^kampung_readings_accepted_total\{[^}]*\} (\d+)/gm)].reduce(
      (n, m) => n + Number(m[1]),
      0,
    )
  }

  for (const n of [2, 3]) {
    it(`${n} workers split 50 000 readings, each stored exactly once`, async () => {
      const db = `split${n}`
      const apiPorts = await Promise.all(Array.from({ length: n }, () => freePort()))
      const running = await Promise.all(
        apiPorts.map((port, i) => startWorker(db, `${db}-ingest-${i + 1}`, `${db}-m${i + 1}`, port)),
      )
      await fleet(Date.UTC(2026, 10, 10))
      await expectExactlyOnce(db)
      const shares = await Promise.all(apiPorts.map(acceptedBy))
      expect(shares.reduce((a, b) => a + b, 0)).toBe(READINGS_PER_RUN)
      // Round-robin in Mosquitto: every worker took a real part of the load.
      for (const share of shares) expect(share).toBeGreaterThan(READINGS_PER_RUN / n / 4)
      await Promise.all(running.map((w) => w.kill('SIGTERM')))
    }, 180_000)

    it(`${n} workers without peer adoption, one SIGKILLed mid-run: its share waits until its client id is back (on another machine); exactly once`, async () => {
      const db = `kill${n}`
      const noAdoption = { KAMPUNG_INGEST_MQTT_ADOPT_PEERS_AFTER_S: '0' }
      const running = await Promise.all(
        Array.from({ length: n }, (_, i) =>
          startWorker(db, `${db}-ingest-${i + 1}`, `${db}-m${i + 1}`, undefined, noAdoption),
        ),
      )
      const victim = running[n - 1]!
      let killed = false
      await fleet(Date.UTC(2026, 10, 11), (acked) => {
        if (acked === 4000 && !killed) {
          killed = true
          void victim.kill('SIGKILL')
        }
      })
      expect(killed).toBe(true)
      // Not everything can be stored yet: the dead worker's share waits in its Mosquitto session.
      const perQuantity = READINGS_PER_RUN / QUANTITIES.length
      expect((await counts(db))[0]).toBeLessThan(perQuantity)
      // The supervisor (or an operator on a spare machine) starts the same client id again.
      await startWorker(db, `${db}-ingest-${n}`, `${db}-spare`, undefined, noAdoption)
      await expectExactlyOnce(db)
      await Promise.all(workers.map((w) => w.kill('SIGTERM')))
    }, 180_000)
  }

  it('3 workers with peer adoption: one SIGKILLed and never restarted, the others take its share; it comes back and takes it again', async () => {
    const db = 'adopt3'
    const running = await Promise.all(
      [1, 2, 3].map((i) => startWorker(db, `${db}-ingest-${i}`, `${db}-m${i}`)),
    )
    const victim = running[2]!
    let killed = false
    await fleet(Date.UTC(2026, 10, 12), (acked) => {
      if (acked === 4000 && !killed) {
        killed = true
        void victim.kill('SIGKILL')
      }
    })
    expect(killed).toBe(true)
    await expectExactlyOnce(db)
    // A survivor adopted the dead worker's session (after the will's delay, 5 s by default).
    const survivorsOutput = running
      .slice(0, 2)
      .map((w) => w.output())
      .join('\n')
    expect(survivorsOutput).toMatch(new RegExp(`"clientId":"${db}-ingest-3".*peer session adopted`))
    // The owner comes back: it takes its session over, the adopters let go, nothing is lost.
    await startWorker(db, `${db}-ingest-3`, `${db}-m3`)
    // Both survivors may adopt (the later takes the session from the earlier); once the owner is
    // back every adoption has ended: it alone holds its session again.
    const count = (re: RegExp) =>
      running.slice(0, 2).reduce((n, w) => n + (w.output().match(re)?.length ?? 0), 0)
    await waitFor(
      'every adoption released',
      () => count(/adopted peer session released/g) === count(/peer session adopted/g),
      20_000,
    )
    await runFleet({
      url: mosquitto.url,
      village: V,
      devices: Array.from({ length: DEVICES }, (_, i) => ({ id: `s-${i}` })),
      messagesPerDevice: REPORTS_PER_DEVICE,
      baseTimeMs: Date.UTC(2026, 10, 13),
      protocolVersion: 5,
    })
    const perQuantity = (2 * READINGS_PER_RUN) / QUANTITIES.length
    await waitFor('both runs stored', async () => (await counts(db)).every((c) => c >= perQuantity), 60_000)
    expect(await counts(db)).toEqual(QUANTITIES.map(() => perQuantity))
    await Promise.all(workers.map((w) => w.kill('SIGTERM')))
  }, 240_000)

  it('2 workers with peer adoption: one stopped (SIGTERM) and left down, the other takes its share', async () => {
    const db = 'stop2'
    const running = await Promise.all([1, 2].map((i) => startWorker(db, `${db}-ingest-${i}`, `${db}-m${i}`)))
    // A planned stop: drained, then DISCONNECT with the will. Mosquitto keeps its session, which
    // keeps taking every other message of the run below.
    expect(await running[1]!.kill('SIGTERM')).toBe(0)
    await fleet(Date.UTC(2026, 10, 14))
    await expectExactlyOnce(db)
    expect(running[0]!.output()).toMatch(new RegExp(`"clientId":"${db}-ingest-2".*peer session adopted`))
    await running[0]!.kill('SIGTERM')
  }, 180_000)
})
