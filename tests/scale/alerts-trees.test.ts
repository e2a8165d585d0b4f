import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import mqtt from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { villageBucket } from '../../src/alerts/index.ts'
import { KampungApp } from '../../src/app.ts'
import { parseConfig } from '../../src/config.ts'
import { SPECIES_IDS } from '../../src/oksigen/index.ts'
import { Registry } from '../../src/registry/index.ts'
import { SCHEMAS } from '../../src/schemas.ts'
import { waitFor } from '../harness/app.ts'
import { type MosquittoHandle, startMosquitto } from '../harness/mosquitto.ts'

const DAY = 86_400_000
const WIB = 7 * 3_600_000
const STEP_MS = 10 * 60_000

/** A growing stem with its daily cycle (thinnest mid-afternoon), µm. */
const stemUm = (t: number, startMs: number) => {
  const hour = ((t + WIB) % DAY) / 3_600_000
  return 20_000 + ((t - startMs) / DAY) * 40 + 25 * Math.cos((2 * Math.PI * (hour - 5)) / 24)
}

/**
 * The state role's Oksigen side: trees follow the village of their dendrometer. A state worker
 * owning licin (bucket 0 of 2) assesses licin's tree from its own MQTT subscription and leaves
 * kemiren's tree (bucket 1) alone, though both trees' readings reach it.
 */
describe('state worker: Sedekah Oksigen trees by village', () => {
  let mosquitto: MosquittoHandle
  let app: KampungApp
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kampung-state-trees-'))
  const trees = new Map<string, string>()

  beforeAll(async () => {
    expect([villageBucket('licin', 2), villageBucket('kemiren', 2)]).toEqual([0, 1])
    mosquitto = await startMosquitto()
    const config = parseConfig({
      dataDir: dir,
      ingest: { mqtt: { url: mosquitto.url } },
      oksigen: { evaluateEveryMs: 200 },
      alerts: { partition: { index: 0, count: 2 } },
    })
    app = new KampungApp(config, { broker: false, ingest: false, api: false, state: true })
    // devices and trees first, as an officer registers them before the worker starts
    const registry = new Registry({ path: path.join(dir, 'registry.db'), schemas: SCHEMAS })
    await registry.start()
    for (const v of ['licin', 'kemiren']) {
      registry.addVillage({ id: v, name: v })
      await registry.addDevice({ id: `${v}-dendro1`, village: v, kind: 'dendrometer', format: 'json' })
    }
    await registry.stop()
    await app.start()
    for (const v of ['licin', 'kemiren']) {
      const tree = app.oksigen!.repo.addTree(
        {
          device: `${v}-dendro1`,
          species: 'teak',
          plantedAtMs: Date.now() - 20 * DAY,
          initialDiameterMm: 20,
        },
        SPECIES_IDS,
      )
      trees.set(v, tree.id)
    }
    app.oksigen!.verifier.refreshTrees()
  }, 60_000)

  afterAll(async () => {
    await app?.stop()
    await mosquitto?.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  it('assesses the owned village’s tree only', async () => {
    const repo = app.oksigen!.repo
    const kemiren = trees.get('kemiren')!
    const before = { state: repo.getState(kemiren), decisions: repo.decisions(kemiren) }
    const startMs = Date.now() - 14 * DAY
    await Promise.all(
      ['licin', 'kemiren'].map(async (v) => {
        const client = await mqtt.connectAsync(mosquitto.url, {
          clientId: `${v}-dendro1`,
          protocolVersion: 5,
        })
        const pending: Promise<unknown>[] = []
        for (let t = startMs; t < Date.now(); t += STEP_MS) {
          pending.push(
            client.publishAsync(
              `kampung/${v}/${v}-dendro1/up`,
              JSON.stringify({ ts: t, values: { stem_diameter: stemUm(t, startMs) } }),
              { qos: 1 },
            ),
          )
          if (pending.length >= 50) await pending.shift()
        }
        await Promise.all(pending)
        await client.endAsync()
      }),
    )
    await waitFor(
      'the licin tree assessed on 14 days of data',
      () => (repo.getState(trees.get('licin')!)?.state ?? 'awaiting_data') === 'growing',
      30_000,
    )
    // the same readings of kemiren's tree came in and were dropped: never assessed here
    await new Promise((r) => setTimeout(r, 1000))
    expect({ state: repo.getState(kemiren), decisions: repo.decisions(kemiren) }).toEqual(before)
    const metrics = await app.metrics.registry.metrics()
    const messages = Math.ceil((Date.now() - startMs) / STEP_MS)
    const notOwned = Number(/kampung_state_messages_total\{outcome="not_owned"\} (\d+)/.exec(metrics)?.[1])
    expect(notOwned).toBeGreaterThanOrEqual(messages - 2)
  }, 120_000)
})
