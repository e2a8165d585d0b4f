import { KampungError } from '../errors.ts'
import type { Logger } from '../log.ts'
import { getLogger } from '../log.ts'
import type { Reading } from '../telemetry/index.ts'
import { buildRecordDraft, type KeyRing, signRecord } from './certificate/index.ts'
import type { CertificateStore } from './certificate/store.ts'
import {
  assessLiveness,
  DendroProcessor,
  type DendroSnapshot,
  type DendroState,
  type LifeEvidence,
  type LifeSnapshot,
  type LifeSpecies,
  LifeTracker,
  type Liveness,
  meanDailyShrinkage,
  VillageWeather,
} from './dendro/index.ts'
import { estimateTree, type TreeEstimate, type TreeMeasurement } from './estimate.ts'
import { type AssessmentRecord, assessmentRecord } from './influx-sink.ts'
import { type Assessment, assess, type GrowthEvidence, type Policy } from './policy.ts'
import type { NewMeasurement, Tree, TreeRepo, TreeState } from './repo.ts'
import { getSpecies, isLeaflessMonth } from './species.ts'

const unknownTree = (treeId: string) =>
  new KampungError('unknown_tree', `unknown tree ${treeId}`, { retryable: false })

export interface VerifierOptions {
  repo: TreeRepo
  certificates: CertificateStore
  keyRing: KeyRing
  /** Per certificate type; `default` for the rest. */
  policies: Record<string, Policy>
  evaluateEveryMs: number
  /** The wall clock (tests replace it). */
  clock?: () => number
  /** Told every assessment (and officer decision) with its numbers: dashboards chart them. */
  onAssessment?: (record: AssessmentRecord) => void
  /** Chave 2014 eq. 6a environmental stress E for heights not measured (default 0, species.ts). */
  heightStressE?: number
}

/** Why a certificate was released: the policy's evidence, or an officer's override without it. */
type CertificateBasis =
  | { basis: 'evidence' }
  | { basis: 'override'; evidenceState: TreeState; evidenceSummary: string }

/** Readings this close to the wall clock mean the data is live, not a replay of the past. */
const LIVE_WITHIN_MS = 3_600_000
const WIB_MS = 7 * 3_600_000

/**
 * What a tree's saved processing state holds: the dendrometer processor and the life tracker.
 * (Saved states from before the life tracker are a bare DendroSnapshot; they still restore.)
 */
interface SavedProcessing {
  version: 2
  dendro: DendroSnapshot
  life: LifeSnapshot
}

/** What an officer sees for one tree: its state, why, the numbers behind it and every decision. */
export interface TreeEvidence {
  tree: Tree
  state: TreeState
  assessment: Assessment | undefined
  growth: GrowthEvidence | undefined
  dendro: DendroState | undefined
  liveness: Liveness | undefined
  /** Life proven by growth (life.ts): growth window, coupling to VPD, dormancy, season days without growth. */
  life: LifeEvidence | undefined
  /** The officers' DBH and height measurements, and the biomass estimate they give now. */
  measurements: TreeMeasurement[]
  estimate: TreeEstimate | undefined
  decisions: ReturnType<TreeRepo['decisions']>
  certificates: string[]
  /** The certificate applications that wait on this tree; their status follows the tree's state. */
  applications: Array<{ id: string; certificateType: string; status: ApplicationStatus; createdAtMs: number }>
}

/** pending while the tree grows (or is at risk); released with a verified tree; refused when it failed. */
export type ApplicationStatus = 'pending' | 'released' | 'refused'

export function applicationStatus(state: TreeState): ApplicationStatus {
  return state === 'verified' ? 'released' : state === 'failed' ? 'refused' : 'pending'
}

export type OfficerDecision = 'verify' | 'reject' | 'reopen'

/**
 * An override releases a certificate without the policy's evidence: its reason is printed on the
 * public page, so it must say something (who looked at what), not "ok".
 */
export const MIN_OVERRIDE_REASON_LENGTH = 20

/**
 * Sedekah Oksigen verification: every stored stem-diameter and position reading of a tree's
 * dendrometer goes through the tree's incremental DendroProcessor; trees with new data are
 * re-assessed against their certificate type's policy every `evaluateEveryMs`; every change of
 * state is kept as a decision with its reason and data; a verified tree gets a signed record.
 * Processor state is saved with each assessment, so a restart resumes without re-reading history.
 */
export class Verifier {
  private readonly opts: VerifierOptions
  private readonly log: Logger = getLogger('oksigen')
  private readonly byDevice = new Map<string, string>()
  /** Trees per village: the village weather station's air temperature goes to each (frost rule). */
  private readonly byVillage = new Map<string, Set<string>>()
  private readonly processors = new Map<string, DendroProcessor>()
  private readonly lives = new Map<string, LifeTracker>()
  /** The villages' weather stations, per local day (VPD, RH), for the life check. */
  private readonly weather = new VillageWeather()
  /** device → is it a weather station (registry kind `weather`)? */
  private readonly weatherDevices = new Map<string, boolean>()
  private readonly dirty = new Set<string>()
  private timer: NodeJS.Timeout | undefined
  /** The newest reading time seen from any tree: "now" for data that is being replayed. */
  private dataNowMs = 0
  /** Once data arrives live, "now" is the wall clock, so trees whose data stops are flagged. */
  private live = false

  constructor(opts: VerifierOptions) {
    this.opts = opts
  }

  async start(): Promise<void> {
    this.refreshTrees()
    // Which devices are weather stations, in one query: a device registered later is looked up
    // on its first reading (isWeatherStation), as every one was before.
    for (const [device, kind] of this.opts.repo.deviceKinds())
      if (!this.weatherDevices.has(device)) this.weatherDevices.set(device, kind === 'weather')
    this.timer = setInterval(() => this.evaluateDirty(), this.opts.evaluateEveryMs)
  }

  async stop(): Promise<void> {
    clearInterval(this.timer)
    this.timer = undefined
    this.evaluateDirty()
  }

  /** Pick up trees registered since start (the API calls this after adding one). */
  refreshTrees(): void {
    for (const t of this.opts.repo.listTrees()) {
      this.byDevice.set(t.device, t.id)
      const trees = this.byVillage.get(t.village) ?? new Set<string>()
      this.byVillage.set(t.village, trees.add(t.id))
    }
  }

  /** Stored readings (IngestPipeline.onStored): only trees' dendrometers matter. */
  onReadings(readings: readonly Reading[]): void {
    let lat: { tree: string; timeMs: number; value: number } | undefined
    for (const r of readings) {
      const treeId = this.byDevice.get(r.device)
      if (!treeId) {
        if (
          r.quantity === 'air_temperature' ||
          r.quantity === 'relative_humidity' ||
          r.quantity === 'rainfall'
        ) {
          if (this.isWeatherStation(r.device))
            this.weather.push(r.village, r.device, r.timeMs, r.quantity, r.value)
        }
        if (r.quantity === 'air_temperature') {
          // The village weather station's air temperature: frost handling in each tree's processor.
          for (const id of this.byVillage.get(r.village) ?? [])
            this.processor(id).pushTemperature(r.timeMs, r.value)
        }
        continue
      }
      const p = this.processor(treeId)
      if (r.quantity === 'stem_diameter') {
        p.push(r.timeMs, r.value)
        if (r.timeMs > this.dataNowMs) this.dataNowMs = r.timeMs
        if (!this.live && this.wallNow() - r.timeMs < LIVE_WITHIN_MS) this.live = true
      } else if (r.quantity === 'latitude') lat = { tree: treeId, timeMs: r.timeMs, value: r.value }
      else if (r.quantity === 'longitude' && lat?.tree === treeId && lat.timeMs === r.timeMs) {
        p.pushLocation(r.timeMs, lat.value, r.value)
      } else continue
      this.dirty.add(treeId)
    }
  }

  private isWeatherStation(device: string): boolean {
    let yes = this.weatherDevices.get(device)
    if (yes === undefined) {
      yes = this.opts.repo.deviceKind(device) === 'weather'
      this.weatherDevices.set(device, yes)
    }
    return yes
  }

  private wallNow(): number {
    return (this.opts.clock ?? Date.now)()
  }

  /**
   * The time trees are judged at: the wall clock once data is live; while the past is replayed
   * (a simulator catching up, a gateway flushing a backlog) the newest reading's time, so a replay
   * does not make every tree look silent.
   */
  private nowMs(): number {
    return this.live || this.dataNowMs === 0 ? this.wallNow() : this.dataNowMs
  }

  private processor(treeId: string): DendroProcessor {
    let p = this.processors.get(treeId)
    if (!p) {
      const saved = this.opts.repo.getState(treeId)?.processor as SavedProcessing | DendroSnapshot | undefined
      const dendro = saved && 'dendro' in saved ? saved.dendro : saved
      p = dendro ? this.restoreProcessor(treeId, dendro) : new DendroProcessor()
      this.processors.set(treeId, p)
      if (saved && 'life' in saved) this.lives.set(treeId, LifeTracker.restore(saved.life))
    }
    return p
  }

  /** A saved processor, or a fresh one when it was saved by an older version (logged). */
  private restoreProcessor(treeId: string, saved: DendroSnapshot): DendroProcessor {
    try {
      return DendroProcessor.restore(saved)
    } catch (err) {
      this.log.warn(
        { treeId, err: (err as Error).message },
        'saved dendrometer state not usable; starting afresh',
      )
      return new DendroProcessor()
    }
  }

  private life(treeId: string): LifeTracker {
    this.processor(treeId) // restores a saved tracker with the processor
    let t = this.lives.get(treeId)
    if (!t) {
      t = new LifeTracker()
      this.lives.set(treeId, t)
    }
    return t
  }

  private saved(treeId: string): SavedProcessing {
    return { version: 2, dendro: this.processor(treeId).snapshot(), life: this.life(treeId).snapshot() }
  }

  private policyFor(tree: Tree): Policy & { minIncrementMm: number } {
    const type = this.opts.repo.applicationsOf(tree.id)[0]?.certificateType
    const policy = (type && this.opts.policies[type]) || this.opts.policies.default
    if (!policy) throw new Error('no verification policy named "default" in config oksigen.policies')
    const species = getSpecies(tree.species)
    return {
      ...policy,
      minIncrementMm: policy.minIncrementMm ?? species?.requirement.minDiameterIncrementMm ?? 5,
    }
  }

  evaluateDirty(): void {
    for (const treeId of [...this.dirty]) {
      this.dirty.delete(treeId)
      try {
        this.evaluate(treeId)
      } catch (err) {
        this.log.error({ err, tree: treeId }, 'tree assessment failed')
      }
    }
  }

  private growthEvidence(
    tree: Tree,
    nowMs: number,
  ): { state: DendroState; liveness: Liveness; growth: GrowthEvidence; life: LifeEvidence } {
    const treeId = tree.id
    const state = this.processor(treeId).state()
    const species = getSpecies(tree.species)
    const phenology: LifeSpecies = {
      isLeafless: (month) => (species ? isLeaflessMonth(species, month) : false),
    }
    const tracker = this.life(treeId)
    tracker.ingest(state.history, (day) => this.weather.day(tree.village, day), phenology)
    const month = new Date(nowMs + WIB_MS).getUTCMonth() + 1
    const life = tracker.evidence({ month, species: phenology })
    const liveness = assessLiveness(state, { nowMs, life })
    const growth: GrowthEvidence = {
      daysObserved: state.days,
      groUm: state.groUm,
      twdUm: state.twdUm,
      growthUmPerDay7d: state.growthUmPerDay7d ?? 0,
      growthUmPerDay30d: state.growthUmPerDay30d ?? 0,
      dailyAmplitudeUm: state.dailyAmplitudeUm ?? 0,
      alive: liveness.alive,
      dormancy: liveness.dormancy ?? null,
      flags: liveness.flags.map((f) => ({
        kind: f.kind,
        severity: f.severity,
        message: f.message,
        sinceMs: f.sinceMs,
        evidence: f.evidence,
      })),
      lastTimeMs: state.lastTimeMs ?? undefined,
    }
    return { state, liveness, growth, life }
  }

  /** Re-assess one tree now; returns its (possibly new) state. */
  evaluate(treeId: string): TreeState {
    const repo = this.opts.repo
    const tree = repo.getTree(treeId)
    if (!tree) throw unknownTree(treeId)
    const nowMs = this.nowMs()
    const { state: dendro, growth } = this.growthEvidence(tree, nowMs)
    const policy = this.policyFor(tree)
    const current = repo.getState(treeId)
    const assessment = assess(growth, policy, nowMs)
    // An officer's or an earlier verification stands unless the evidence turns to failure (a
    // growing season without growth, tampering): dormancy, drought or silence never revoke it.
    const held = current?.state === 'verified' && assessment.state !== 'failed'
    let next: TreeState = held ? 'verified' : assessment.state
    if (next === 'eligible' && policy.autoVerify) next = 'verified'
    // The planter's SMS about drought goes through the notify layer of the alerts issue; until it
    // exists, the decision and the state record that one is owed.
    const smsOwed = next === 'at_risk' && /^drought/.test(assessment.reason)
    const reason = smsOwed
      ? `${assessment.reason} (planter SMS pending: no notify layer yet)`
      : assessment.reason
    const detail = { ...assessment, reason, growth: summarize(growth), assessedAtMs: nowMs }
    if (current?.state !== next) {
      const decided = next === 'verified' && !held ? `automatic: ${reason}` : reason
      repo.addDecision(treeId, {
        atMs: nowMs,
        fromState: current?.state,
        toState: next,
        by: 'auto',
        reason: decided,
        data: detail,
      })
      if (next === 'verified' && !held) this.issueCertificate(tree, growth, dendro, 'auto', decided, nowMs)
      this.log.info({ tree: treeId, from: current?.state, to: next, reason }, 'tree state changed')
    }
    repo.saveState(treeId, {
      state: next,
      detail,
      processor: this.saved(treeId),
      updatedAtMs: nowMs,
    })
    this.report(tree, next, growth, assessment.progressPct, nowMs)
    return next
  }

  /**
   * An officer's decision, kept with who and why. `verify` issues the certificate only on the
   * policy's evidence (the tree is eligible, or already verified); otherwise it is refused
   * (`evidence_missing`) unless the officer overrides with a written reason of at least
   * MIN_OVERRIDE_REASON_LENGTH characters, which the certificate carries and its public page
   * states. A tree whose evidence says it failed (dead, a post, moved) is never verified.
   */
  decide(
    treeId: string,
    d: { decision: OfficerDecision; by: string; reason: string; override?: boolean },
  ): TreeState {
    const repo = this.opts.repo
    const tree = repo.getTree(treeId)
    if (!tree) throw unknownTree(treeId)
    const current = repo.getState(treeId)
    const nowMs = this.wallNow()
    const { state: dendro, growth } = this.growthEvidence(tree, this.nowMs())
    const assessment = assess(growth, this.policyFor(tree), this.nowMs())
    let next: TreeState
    let override = false
    if (d.decision === 'verify') {
      if (assessment.state === 'failed') {
        throw new KampungError('not_verifiable', `tree ${treeId} cannot be verified: ${assessment.reason}`, {
          retryable: false,
        })
      }
      const evidenced = assessment.state === 'eligible' || current?.state === 'verified'
      if (!evidenced) {
        if (!d.override)
          throw new KampungError(
            'evidence_missing',
            `tree ${treeId} does not have the evidence its policy asks for (${assessment.state}: ${assessment.reason}); ` +
              `an officer may override with a written reason of at least ${MIN_OVERRIDE_REASON_LENGTH} characters, shown on the public certificate`,
            { retryable: false },
          )
        if (d.reason.trim().length < MIN_OVERRIDE_REASON_LENGTH)
          throw new KampungError(
            'override_reason_too_short',
            `an override needs a written reason of at least ${MIN_OVERRIDE_REASON_LENGTH} characters (it is shown on the public certificate)`,
            { retryable: false },
          )
        override = true
      }
      next = 'verified'
    } else if (d.decision === 'reject') next = 'failed'
    else next = assessment.state
    repo.addDecision(treeId, {
      atMs: nowMs,
      fromState: current?.state,
      toState: next,
      by: d.by,
      reason: d.reason,
      data: { assessment, growth: summarize(growth), ...(override ? { override: true } : {}) },
    })
    if (next === 'verified' && current?.state !== 'verified') {
      const basis: CertificateBasis = override
        ? { basis: 'override', evidenceState: assessment.state, evidenceSummary: assessment.reason }
        : { basis: 'evidence' }
      this.issueCertificate(tree, growth, dendro, d.by, d.reason, nowMs, basis)
    }
    repo.saveState(treeId, {
      state: next,
      detail: {
        ...assessment,
        growth: summarize(growth),
        decidedBy: d.by,
        reason: d.reason,
        ...(override ? { override: true } : {}),
      },
      updatedAtMs: nowMs,
    })
    this.report(tree, next, growth, assessment.progressPct, nowMs)
    return next
  }

  /**
   * An officer measured a tree (DBH at 1.3 m and/or height): kept with the tree's GRO now, so later
   * estimates add only the dendrometer's growth since (estimate.ts).
   */
  measure(treeId: string, m: NewMeasurement): TreeMeasurement {
    const tree = this.opts.repo.getTree(treeId)
    if (!tree) throw unknownTree(treeId)
    return this.opts.repo.addMeasurement(treeId, m, this.processor(treeId).state().groUm)
  }

  /** Biomass and O2 of a tree now: from measured DBH plus growth since, or none yet (estimate.ts). */
  estimate(tree: Tree, groUm: number): TreeEstimate | undefined {
    const species = getSpecies(tree.species)
    if (!species) return undefined
    return estimateTree({
      species,
      measurements: this.opts.repo.measurements(tree.id),
      groUm,
      initialHeightM: tree.initialHeightM,
      stressE: this.opts.heightStressE,
    })
  }

  /** A failing sink must not stop verification: the record is a copy for charts. */
  private report(
    tree: Tree,
    state: TreeState,
    growth: GrowthEvidence,
    progressPct: number,
    atMs: number,
  ): void {
    if (!this.opts.onAssessment) return
    try {
      const estimate = this.estimate(tree, growth.groUm)
      this.opts.onAssessment(assessmentRecord(tree, state, growth, progressPct, atMs, estimate))
    } catch (err) {
      this.log.warn({ err, tree: tree.id }, 'assessment not reported')
    }
  }

  /** Everything about one tree, for the officer's view and the API. */
  evidence(treeId: string): TreeEvidence | undefined {
    const repo = this.opts.repo
    const tree = repo.getTree(treeId)
    if (!tree) return undefined
    const stored = repo.getState(treeId)
    const hasData = this.processors.has(treeId) || stored?.processor !== undefined
    const nowMs = this.nowMs()
    const computed = hasData ? this.growthEvidence(tree, nowMs) : undefined
    const state = stored?.state ?? 'awaiting_data'
    return {
      tree,
      state,
      // the reference pseudonym and the planter's phone stay out of this view
      applications: repo.applicationsOf(treeId).map((a) => ({
        id: a.id,
        certificateType: a.certificateType,
        status: applicationStatus(state),
        createdAtMs: a.createdAtMs,
      })),
      assessment: computed ? assess(computed.growth, this.policyFor(tree), nowMs) : undefined,
      growth: computed?.growth,
      dendro: computed?.state,
      liveness: computed?.liveness,
      life: computed?.life,
      measurements: repo.measurements(treeId),
      estimate: this.estimate(tree, computed?.growth.groUm ?? 0),
      decisions: repo.decisions(treeId),
      certificates: repo.certificatesOf(treeId),
    }
  }

  private issueCertificate(
    tree: Tree,
    growth: GrowthEvidence,
    dendro: DendroState,
    by: string,
    reason: string,
    nowMs: number,
    basis: CertificateBasis = { basis: 'evidence' },
  ): void {
    const species = getSpecies(tree.species)
    if (!species) throw new Error(`tree ${tree.id}: unknown species ${tree.species}`)
    // the stem at the dendrometer (evidence), and the DBH-based estimate (never the stem diameter)
    const currentDiameterMm = tree.initialDiameterMm + growth.groUm / 1000
    const estimate = this.estimate(tree, growth.groUm)!
    const mds = meanDailyShrinkage(dendro.history)
    const draft = buildRecordDraft({
      treeId: tree.id,
      species: species.id,
      plantedOn: tree.plantedAtMs,
      location: { lat: tree.lat ?? 0, lon: tree.lon ?? 0 },
      evidence: {
        initialDiameterMm: tree.initialDiameterMm,
        currentDiameterMm,
        diameterIncrementMm: growth.groUm / 1000,
        groUm: growth.groUm,
        daysObserved: growth.daysObserved,
        dailyAmplitudeUm: growth.dailyAmplitudeUm,
        ...(mds ? { mdsUm: mds.um, mdsMethod: mds.method } : {}),
        ...(tree.mountHeightCm !== undefined ? { mountHeightCm: tree.mountHeightCm } : {}),
        growthUmPerMonth: dendro.growthUmPerMonth ?? growth.growthUmPerDay30d * 30,
        alive: growth.alive === true,
        flags: growth.flags.map((f) => f.kind),
        daily: dendro.history.map((d) => ({
          day: new Date(d.dayStartMs + 7 * 3_600_000).toISOString().slice(0, 10),
          groUm: d.groUm,
          twdUm: d.twdUm,
        })),
      },
      estimate,
      decision: {
        by,
        reason: reason.slice(0, 500),
        atMs: nowMs,
        basis: basis.basis,
        ...(basis.basis === 'override'
          ? { evidenceState: basis.evidenceState, evidenceSummary: basis.evidenceSummary.slice(0, 300) }
          : {}),
      },
      nowMs,
    })
    const signed = signRecord(draft, this.opts.keyRing)
    void this.opts.certificates.put(signed).then(
      () => this.log.info({ tree: tree.id, certificate: signed.record.id }, 'certificate issued'),
      (err) => this.log.error({ err, tree: tree.id }, 'certificate could not be stored'),
    )
  }
}

function summarize(g: GrowthEvidence): Record<string, unknown> {
  return {
    daysObserved: g.daysObserved,
    groUm: Math.round(g.groUm),
    twdUm: Math.round(g.twdUm),
    growthUmPerDay7d: Number(g.growthUmPerDay7d.toFixed(2)),
    growthUmPerDay30d: Number(g.growthUmPerDay30d.toFixed(2)),
    dailyAmplitudeUm: Math.round(g.dailyAmplitudeUm),
    alive: g.alive,
    dormancy: g.dormancy ?? null,
    flags: g.flags.filter((f) => f.severity !== 'info').map((f) => ({ kind: f.kind, message: f.message })),
  }
}
