import path from 'node:path'
import type { Registry } from '../registry/index.ts'
import { RegistryCertificateStore } from './cert-store.ts'
import { KeyRing } from './certificate/index.ts'
import type { AssessmentRecord } from './influx-sink.ts'
import type { Policy } from './policy.ts'
import { TreeRepo } from './repo.ts'
import { Verifier } from './verifier.ts'

export { estimateBiomass } from './biomass.ts'
export { RegistryCertificateStore } from './cert-store.ts'
export * from './certificate/index.ts'
export {
  BREAST_HEIGHT_M,
  DBH_ASSUMPTION,
  estimateTree,
  type TreeEstimate,
  type TreeMeasurement,
} from './estimate.ts'
export {
  type AssessmentRecord,
  assessmentRecord,
  encodeAssessment,
  InfluxAssessmentSink,
  type InfluxAssessmentSinkOptions,
} from './influx-sink.ts'
export { type Assessment, assess, type GrowthEvidence, type Policy, policySchema } from './policy.ts'
export {
  type Application,
  measurementProblems,
  type NewMeasurement,
  type NewTree,
  TREE_STATES,
  type Tree,
  TreeRepo,
  type TreeState,
} from './repo.ts'
export { oksigenTables } from './schema.ts'
export { getSpecies, SPECIES, SPECIES_IDS } from './species.ts'
export { type OfficerDecision, type TreeEvidence, Verifier } from './verifier.ts'

/** The Sedekah Oksigen capability, assembled: tree registry, signing keys, certificates, verifier. */
export class Oksigen {
  readonly repo: TreeRepo
  readonly keyRing: KeyRing
  readonly certificates: RegistryCertificateStore
  readonly verifier: Verifier

  constructor(o: {
    registry: Registry
    dir: string
    keyDir: string
    policies: Record<string, Policy>
    evaluateEveryMs: number
    heightStressE?: number
    clock?: () => number
    onAssessment?: (record: AssessmentRecord) => void
  }) {
    this.repo = new TreeRepo(o.registry, path.join(o.dir, 'pseudonym.key'))
    this.keyRing = new KeyRing({ dir: o.keyDir })
    this.certificates = new RegistryCertificateStore(o.registry)
    this.verifier = new Verifier({
      repo: this.repo,
      certificates: this.certificates,
      keyRing: this.keyRing,
      policies: o.policies,
      evaluateEveryMs: o.evaluateEveryMs,
      heightStressE: o.heightStressE,
      clock: o.clock,
      onAssessment: o.onAssessment,
    })
  }

  async start(): Promise<void> {
    await this.repo.start()
    await this.keyRing.start()
    await this.verifier.start()
  }

  async stop(): Promise<void> {
    await this.verifier.stop()
  }
}
