import path from 'node:path'
import {
  boardDriver,
  buildDistrict,
  directDriver,
  type FaultSpec,
  Fleet,
  provisionDistrict,
  type SimVillage,
  startSerialNodes,
  validateFaultSpecs,
} from '../../firmware-sim/index.ts'
import type { Directory } from '../alerts/index.ts'
import { type Config, ConfigError } from '../config.ts'
import type { Metrics } from '../metrics.ts'
import type { Registry } from '../registry/index.ts'

const DAY_MS = 86_400_000

export interface Simulation {
  fleet: Fleet
  villages: SimVillage[]
  progress: Progress
  stop(): Promise<void>
}

/** Fault specs from config, checked against the district's node ids; every problem at once. */
function checkFaults(raw: Record<string, unknown[]>, villages: SimVillage[]): Record<string, FaultSpec[]> {
  const ids = new Set(villages.flatMap((v) => v.nodes.map((n) => n.id)))
  const problems: string[] = []
  const faults: Record<string, FaultSpec[]> = {}
  for (const [id, specs] of Object.entries(raw)) {
    if (!ids.has(id)) {
      problems.push(
        `sim.faults.${id}: no simulated node "${id}" (nodes are e.g. ${[...ids].slice(0, 3).join(', ')})`,
      )
      continue
    }
    const result = validateFaultSpecs(specs)
    if (result.ok) faults[id] = result.specs
    else for (const e of result.errors) problems.push(`sim.faults.${id}${e.replace(/^\$(\S*) /, '$1: ')}`)
  }
  if (problems.length) throw new ConfigError('sim.faults', problems)
  return faults
}

/**
 * Provision and start the simulated district of `cfg.sim` against the broker at `url`, replaying
 * `backfillDays` of history at `speed`, then reporting in real time.
 */
export async function startSimulation(o: {
  cfg: Config
  registry: Registry
  url: string
  /** Only this village of the district (`kampung gateway`). */
  village?: string
  /** Node id → serial port of a real board (Arduino with StandardFirmata) replacing the simulated one. */
  serial?: Record<string, string>
  metrics?: Metrics
  print?: (line: string) => void
  /**
   * The running alerts engine's directory: each simulated soil node becomes a field, and with the
   * console SMS sender a demo farmer per village subscribes to its fields, so `npm start` shows the
   * SMS a farmer would get.
   */
  directory?: Directory
}): Promise<Simulation> {
  const sim = o.cfg.sim
  const interval = sim.reportIntervalMs
  const startMs = Math.floor((Date.now() - sim.backfillDays * DAY_MS) / interval) * interval
  const layout = {
    seed: sim.seed,
    villages: sim.villages,
    fieldsPerVillage: sim.fieldsPerVillage,
    treesPerVillage: sim.treesPerVillage,
    startMs,
  }
  const faults = checkFaults(sim.faults, buildDistrict(layout))
  let villages = buildDistrict({ ...layout, faults, startDry: [DEMO_DRY_FIELD] })
  if (o.village) {
    const ids = villages.map((v) => v.id)
    villages = villages.filter((v) => v.id === o.village)
    if (villages.length === 0)
      throw new ConfigError('--village', [`no simulated village "${o.village}"; one of ${ids.join(', ')}`])
  }
  const nodeSpecs = new Map(villages.flatMap((v) => v.nodes.map((n) => [n.id, n] as const)))
  const serial = Object.entries(o.serial ?? {})
  const unknown = serial.filter(([id]) => !nodeSpecs.has(id)).map(([id]) => id)
  if (unknown.length)
    throw new ConfigError(
      '--serial',
      unknown.map((id) => `no node "${id}" in ${villages.map((v) => v.id).join(', ')}`),
    )
  const secrets = await provisionDistrict(o.registry, villages)
  if (o.directory) provisionFields(o.directory, villages, startMs, o.cfg.notify.sender === 'console')
  const board = sim.driver === 'board' ? boardDriver(interval) : undefined
  const fleet = new Fleet({
    villages,
    url: o.url,
    dataDir: path.join(o.cfg.dataDir, 'sim'),
    secrets,
    reportIntervalMs: interval,
    startMs,
    speed: sim.speed,
    driver: board ?? directDriver,
    realNodes: new Set(serial.map(([id]) => id)),
    // Catching up is a backlog flush: let it go faster than a real gateway's default pace.
    gateway: { maxMessagesPerSec: 200, healthIntervalMs: 10_000 },
  })
  await fleet.start()
  const real = serial.length
    ? await startSerialNodes({
        nodes: serial.map(([id, port]) => ({ spec: nodeSpecs.get(id)!, port })),
        gateway: fleet.gatewayOf(nodeSpecs.get(serial[0]![0])!.village)!,
        reportIntervalMs: interval,
      })
    : undefined
  const progress = new Progress(fleet, o.metrics, o.print)
  progress.start()
  return {
    fleet,
    villages,
    progress,
    async stop() {
      progress.stop()
      real?.stop()
      await fleet.stop()
      board?.stop()
    },
  }
}

/**
 * A field per simulated soil node (its crop, planted when the model was, loam as the model's soil)
 * and, only when SMS go to the console, one demo farmer per village subscribed to every field of
 * it. Existing fields and farmers are kept: a restart or an officer's edits change nothing.
 */
export function provisionFields(
  directory: Directory,
  villages: SimVillage[],
  startMs: number,
  demoFarmers: boolean,
): void {
  for (const [v, village] of villages.entries()) {
    const fields: string[] = []
    for (const node of village.nodes) {
      if (node.kind !== 'soil' || !node.subject) continue
      const name = node.id.slice(village.id.length + 1).toUpperCase()
      if (!directory.getField(node.id))
        directory.addField({
          id: node.id,
          village: village.id,
          name,
          crop: node.subject as Parameters<Directory['addField']>[0]['crop'],
          plantedAtMs: startMs - SOIL_PLANTED_BEFORE_START_MS,
          areaHa: 0.5,
          lat: node.latDeg,
          lon: node.lonDeg,
          devices: [node.id],
          // each simulated soil node drives its field's valve (D7): farmers may send AIRI <FIELD> 30
          valve: { device: node.id },
        })
      fields.push(node.id)
    }
    if (!demoFarmers || fields.length === 0) continue
    const id = `demo-${village.id}`
    if (!directory.getFarmer(id))
      directory.addFarmer({
        id,
        name: `Petani ${village.name}`,
        // Indonesia's +62 8xx mobile range with a run of zeros: a number for the console only.
        phone: `+6281200000${String(v + 1).padStart(3, '0')}`,
        village: village.id,
        // No quiet hours: a newcomer at night should still see what a farmer would be sent.
        quietStart: '00:00',
        quietEnd: '00:00',
      })
    const subscribed = new Set(directory.subscriptionsOf(id))
    for (const field of fields) if (!subscribed.has(field)) directory.subscribe(id, field)
  }
}

/**
 * The first village's chili field starts dry, so a newcomer sees within a minute or two the SMS its
 * farmer would get (README). Every other field starts at field capacity.
 */
const DEMO_DRY_FIELD = 'kemiren-sawah3'

/** buildDistrict plants every soil model this long before the simulation starts. */
const SOIL_PLANTED_BEFORE_START_MS = 20 * DAY_MS

const WIB_MS = 7 * 3_600_000
const PROGRESS_EVERY_MS = 5_000

/** One status line every few seconds: simulated time, nodes online, throughput, queue, rejects. */
export class Progress {
  private timer: NodeJS.Timeout | undefined
  private lastForwarded = 0
  private lastStored = 0
  private lastAtMs = 0

  constructor(
    private readonly fleet: Fleet,
    private readonly metrics: Metrics | undefined,
    private readonly print: (line: string) => void = (line) => console.log(line),
  ) {}

  start(): void {
    this.lastAtMs = Date.now()
    this.timer = setInterval(() => void this.report(), PROGRESS_EVERY_MS)
  }

  stop(): void {
    clearInterval(this.timer)
  }

  private async stored(): Promise<number> {
    if (!this.metrics) return 0
    const m = await this.metrics.readingsAccepted.get()
    return m.values.reduce((n, v) => n + v.value, 0)
  }

  /** Readings the service refused (kampung_readings_rejected_total), whoever sent them. */
  private async rejected(): Promise<number> {
    if (!this.metrics) return 0
    const m = await this.metrics.readingsRejected.get()
    return m.values.reduce((n, v) => n + v.value, 0)
  }

  async report(): Promise<string> {
    const s = this.fleet.stats()
    const now = Date.now()
    const seconds = Math.max(0.001, (now - this.lastAtMs) / 1000)
    const stored = await this.stored()
    const simTime = new Date(s.simNowMs + WIB_MS).toISOString().slice(0, 16).replace('T', ' ')
    const catchingUp = now - s.simNowMs > 2 * 60_000 ? ' (catching up)' : ''
    const parts = [
      `sim ${simTime} WIB${catchingUp}`,
      `nodes ${s.nodesOnline}/${s.nodes} online`,
      `${Math.round((s.forwarded - this.lastForwarded) / seconds)} reports/s forwarded`,
    ]
    if (this.metrics) parts.push(`${Math.round((stored - this.lastStored) / seconds)} readings/s stored`)
    // Rejected: what the service refused (any sender, as /metrics counts it), or, without the
    // service in this process, what the simulated gateways were told was refused.
    const rejected = this.metrics ? await this.rejected() : s.rejectedByServer + s.refused
    parts.push(`queued ${s.queueDepth}`, `rejected ${rejected}`)
    this.lastForwarded = s.forwarded
    this.lastStored = stored
    this.lastAtMs = now
    const line = parts.join(' | ')
    this.print(line)
    return line
  }
}
