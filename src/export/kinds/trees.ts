import { KampungError } from '../../errors.ts'
import { TREE_STATES, type TreeState } from '../../oksigen/index.ts'
import { utc, wib } from '../csv.ts'
import type { ExportKind } from '../types.ts'

export function checkTreeState(state: string | undefined): TreeState | undefined {
  if (state !== undefined && !(TREE_STATES as readonly string[]).includes(state))
    throw new KampungError('invalid_query', `state "${state}" is not one of ${TREE_STATES.join(', ')}`, {
      retryable: false,
    })
  return state as TreeState | undefined
}

/**
 * Sedekah Oksigen trees with a summary of their evidence (the officer's view of one tree, one row
 * each): growth, liveness, the assessment and its reason, measurements, decisions, certificates.
 * The tree list is read once (a district's trees, a few kB each); the evidence one tree at a time.
 */
export const trees: ExportKind = {
  name: 'trees',
  description: 'trees with their verification state and evidence summary',
  params: ['village', 'device', 'state'],
  columns: [
    'id',
    'village',
    'device',
    'species',
    'planted_utc',
    'planted_wib',
    'lat',
    'lon',
    'state',
    'assessment',
    'assessment_reason',
    'progress_pct',
    'days_observed',
    'growth_um',
    'growth_um_per_day_7d',
    'growth_um_per_day_30d',
    'alive',
    'flags',
    'last_data_utc',
    'measurements',
    'last_dbh_cm',
    'applications',
    'certificates',
    'decisions',
    'last_decision_utc',
    'last_decision_by',
  ],
  available: (s) => s.oksigen !== undefined,
  async *rows(sources, f) {
    const { repo, verifier } = sources.oksigen!
    const list = repo.listTrees({ state: checkTreeState(f.state), village: f.village })
    for (const tree of list) {
      if (f.device !== undefined && tree.device !== f.device) continue
      const e = verifier.evidence(tree.id)
      if (!e) continue // removed since the list was read
      const g = e.growth
      const lastDbh = [...e.measurements].reverse().find((m) => m.dbhCm !== undefined)
      const lastDecision = e.decisions[e.decisions.length - 1]
      yield [
        tree.id,
        tree.village,
        tree.device,
        tree.species,
        utc(tree.plantedAtMs),
        wib(tree.plantedAtMs),
        tree.lat,
        tree.lon,
        e.state,
        e.assessment?.reasonCode,
        e.assessment?.reason,
        e.assessment?.progressPct,
        g?.daysObserved,
        g?.groUm,
        g?.growthUmPerDay7d,
        g?.growthUmPerDay30d,
        g?.alive,
        g?.flags.map((fl) => fl.kind).join(' '),
        utc(g?.lastTimeMs),
        e.measurements.length,
        lastDbh?.dbhCm,
        e.applications.length,
        e.certificates.length,
        e.decisions.length,
        utc(lastDecision?.atMs),
        lastDecision?.by,
      ]
      // verification work and requests go on between trees
      await new Promise((resolve) => setImmediate(resolve))
    }
  },
}
