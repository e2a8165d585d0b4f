import { StemModel, WeatherModel } from '../../firmware-sim/models/index.ts'
import { type ConfigInput, parseConfig } from '../../src/config.ts'
import { UserStore } from '../../src/console/index.ts'
import { startApp, type TestApp, waitFor } from '../harness/app.ts'

const DAY_MS = 86_400_000
const STEP_MS = 10 * 60_000

/** Passwords of the test accounts. */
export const PASSWORDS = { admin: 'admin-password-1', officer: 'officer-password-1' }

export interface ConsoleWorld {
  t: TestApp
  /** A sengon with 20 days of healthy growth: eligible, waiting for an officer (no auto-verify). */
  eligibleTree: string
  /** A tree whose dendrometer has sent nothing yet. */
  awaitingTree: string
  dendrometer: string
}

/**
 * The service with an officer and an admin, and trees with real data: a simulated sengon's
 * dendrometer (firmware-sim's stem model) reports 20 days up to now through POST /api/v1/telemetry,
 * and the verifier assesses it like any tree. Its certificate type `console-test` does not
 * auto-verify, so it waits in the officers' queue.
 */
export async function consoleWorld(overrides: ConfigInput = {}): Promise<ConsoleWorld> {
  const defaults = parseConfig({}).oksigen.policies.default!
  const t = await startApp({
    ...overrides,
    oksigen: {
      evaluateEveryMs: 100,
      policies: {
        default: defaults,
        'console-test': { ...defaults, minIncrementMm: 0.5, autoVerify: false },
      },
    },
  })
  const users = new UserStore(t.app.registry)
  await users.add({ id: 'ayu', role: 'admin', password: PASSWORDS.admin })
  await users.add({ id: 'budi', role: 'officer', password: PASSWORDS.officer })
  t.app.registry.addVillage({ id: 'kemiren', name: 'Desa Kemiren' })
  const secret = await t.addDevice({ id: 'kemiren-pohon1', village: 'kemiren', kind: 'dendrometer' })
  await t.addDevice({ id: 'kemiren-pohon2', village: 'kemiren', kind: 'dendrometer' })
  users.setVillages('budi', ['kemiren']) // an officer sees only their villages (src/api/scope.ts)

  const nowMs = Date.now()
  const startMs = Math.floor((nowMs - 20 * DAY_MS) / STEP_MS) * STEP_MS
  const repo = t.app.oksigen!.repo
  const eligible = repo.addTree(
    {
      device: 'kemiren-pohon1',
      species: 'sengon',
      plantedAtMs: startMs,
      initialDiameterMm: 15,
      lat: -8.2,
      lon: 114.3,
    },
    ['sengon'],
  )
  repo.addApplication({
    id: 'app-1',
    tree: eligible.id,
    certificateType: 'console-test',
    reference: '503/IMB/1/2026',
  })
  const awaiting = repo.addTree(
    { device: 'kemiren-pohon2', species: 'teak', plantedAtMs: startMs, initialDiameterMm: 12 },
    ['teak'],
  )
  repo.addApplication({
    id: 'app-2',
    tree: awaiting.id,
    certificateType: 'console-test',
    reference: '503/IMB/2/2026',
  })
  t.app.oksigen!.verifier.refreshTrees()
  t.app.oksigen!.verifier.evaluate(awaiting.id)

  const weather = new WeatherModel({ seed: 7 })
  const stem = new StemModel({ weather, species: 'sengon', plantedAtMs: startMs, startMs, seed: 3 })
  const points: Array<{ ts: number; values: { stem_diameter: number } }> = []
  for (let ts = startMs + STEP_MS; ts <= nowMs; ts += STEP_MS) {
    points.push({ ts, values: { stem_diameter: stem.step(ts)[0]!.value } })
  }
  const auth = `Basic ${Buffer.from(`kemiren-pohon1:${secret}`).toString('base64')}`
  for (let i = 0; i < points.length; i += 500) {
    const res = await fetch(`${t.apiUrl}/api/v1/telemetry`, {
      method: 'POST',
      headers: { authorization: auth, 'content-type': 'application/json' },
      body: JSON.stringify(points.slice(i, i + 500)),
    })
    if (res.status !== 200) throw new Error(`telemetry POST: ${res.status} ${await res.text()}`)
  }
  await waitFor(
    'the sengon to be assessed eligible',
    () => repo.getState(eligible.id)?.state === 'eligible',
    30_000,
  )
  return { t, eligibleTree: eligible.id, awaitingTree: awaiting.id, dendrometer: 'kemiren-pohon1' }
}
