import path from 'node:path'
import { type CommandHandler, Gateway, type GatewayOptions } from '../gateway/index.ts'
import { getLogger } from '../src/log.ts'
import type { DeviceKind, Registry } from '../src/registry/index.ts'
import type { SimNodeSpec, SimVillage } from './district.ts'

/**
 * Supplies a node's report at a simulated time; the johnny-five driver plugs in here. A driver
 * with firmware also takes the node's commands and says its current report interval.
 */
export type NodeDriver = ((
  spec: SimNodeSpec,
  timeMs: number,
) => Promise<NodeReport | null> | NodeReport | null) & {
  /** A command from the node's down topic (through its gateway); the answer for its ack topic. */
  command?: CommandHandler
  /** The node's own report interval, once its firmware set one (a `set_config` command). */
  intervalMs?: (nodeId: string) => number | undefined
}

export interface NodeReport {
  /** The node's own timestamp; null when it has no clock (the gateway stamps it). */
  timeMs: number | null
  values: Record<string, number>
}

/** Reported precision: what the node's ADC and firmware would send (µm for stems, 0.01 otherwise). */
const round = (quantity: string, value: number) =>
  quantity === 'stem_diameter'
    ? Math.round(value)
    : quantity === 'latitude' || quantity === 'longitude'
      ? value
      : Math.round(value * 100) / 100

/** Reads the models directly (load mode, tests of the physics): no board in between. */
export const directDriver: NodeDriver = (spec, timeMs) => {
  const sample = spec.node.sample(timeMs)
  if (!sample) return null
  const values: Record<string, number> = {}
  for (const r of sample.readings) values[r.quantity] = round(r.quantity, r.value)
  return { timeMs: sample.timeMs, values }
}

/** Reports of one node handed to its gateway in one step at most (one queue transaction). */
const MAX_REPORTS_PER_STEP = 500

export interface FleetOptions {
  villages: SimVillage[]
  /** The broker the village gateways forward to. */
  url: string
  /** Gateway queues live in `<dataDir>/gateways/<village>`. */
  dataDir: string
  /** Device id → secret (see provisionDistrict). */
  secrets: ReadonlyMap<string, string>
  /** Simulated time between two reports of a node. */
  reportIntervalMs: number
  /** Simulated time of the first report. */
  startMs: number
  /**
   * Simulated ms per real ms while catching up with the present (e.g. 600: ten minutes a second).
   * Simulated time never passes the real present (the ingest refuses readings from the future);
   * once there, the fleet runs in real time.
   */
  speed: number
  /** Stop producing at this simulated time (tests, fixed runs); default: run until stop(). */
  endMs?: number
  /** Real interval of the simulation loop. */
  tickMs?: number
  driver?: NodeDriver
  /** Nodes that are real boards (reporting through `gatewayOf(village).submit`), not simulated. */
  realNodes?: ReadonlySet<string>
  gateway?: Partial<Omit<GatewayOptions, 'gateway' | 'url' | 'nodes' | 'dataDir' | 'clock'>>
}

export interface FleetStats {
  simNowMs: number
  nodes: number
  /** Nodes that produced a report within the last two report intervals (simulated). */
  nodesOnline: number
  submitted: number
  forwarded: number
  queueDepth: number
  /** Readings the gateway could not queue (full queue, invalid) or the server rejected. */
  refused: number
  rejectedByServer: number
}

/**
 * Runs a simulated district: each node reports every `reportIntervalMs` of simulated time to its
 * village gateway (durable queue, MQTT with the node's own credentials), accelerated until the
 * simulated clock reaches the present, then in real time.
 */
export class Fleet {
  private readonly opts: FleetOptions
  private readonly log = getLogger('sim.fleet')
  private readonly gateways = new Map<string, Gateway>()
  private readonly nextMs = new Map<string, number>()
  private readonly lastReportMs = new Map<string, number>()
  private timer: NodeJS.Timeout | undefined
  private simNowMs: number
  private realStartMs = 0
  private submitted = 0
  private refused = 0
  private stepping = false
  private finished: (() => void) | undefined
  /** Resolves once endMs is reached and every gateway queue is empty. */
  readonly done: Promise<void>

  constructor(opts: FleetOptions) {
    this.opts = opts
    this.simNowMs = opts.startMs
    this.done = new Promise((resolve) => {
      this.finished = resolve
    })
  }

  async start(): Promise<void> {
    const o = this.opts
    for (const v of o.villages) {
      const nodes: GatewayOptions['nodes'] = {}
      for (const n of v.nodes) {
        nodes[n.id] = { village: v.id, secret: this.secret(n.id) }
        this.nextMs.set(n.id, o.startMs)
      }
      const gateway = new Gateway({
        ...o.gateway,
        gateway: { id: v.gatewayId, village: v.id, secret: this.secret(v.gatewayId) },
        url: o.url,
        nodes,
        dataDir: path.join(o.dataDir, 'gateways', v.id),
        clock: () => this.simNowMs,
        onCommand: o.driver?.command,
      })
      await gateway.start()
      this.gateways.set(v.id, gateway)
    }
    this.realStartMs = Date.now()
    const tick = o.tickMs ?? 200
    this.timer = setInterval(() => void this.step(), tick)
    this.log.info({ villages: o.villages.length, nodes: this.nextMs.size, speed: o.speed }, 'fleet started')
  }

  private secret(id: string): string {
    const secret = this.opts.secrets.get(id)
    if (!secret) throw new Error(`no secret for simulated device ${id}: provision the district first`)
    return secret
  }

  /**
   * Advance simulated time and hand every due report to its gateway: a node's due reports go in one
   * queue transaction, at most MAX_REPORTS_PER_STEP of them, and the loop yields between nodes, so
   * catching up on days of history never blocks the process (the broker and ingest share it).
   */
  private async step(): Promise<void> {
    if (this.stepping) return
    this.stepping = true
    try {
      const o = this.opts
      const elapsed = Date.now() - this.realStartMs
      let target = Math.min(o.startMs + elapsed * o.speed, Date.now())
      if (o.endMs !== undefined) target = Math.min(target, o.endMs)
      const driver = o.driver ?? directDriver
      let behind = false
      for (const v of o.villages) {
        const gateway = this.gateways.get(v.id)
        if (!gateway) return // stopped meanwhile
        for (const n of v.nodes) {
          if (o.realNodes?.has(n.id)) continue
          let next = this.nextMs.get(n.id)!
          const batch: Array<{ values: Record<string, number>; timeMs?: number }> = []
          const flush = () => {
            if (batch.length === 0) return
            const result = gateway.submitMany(n.id, batch)
            if (result.ok) this.submitted += batch.length
            else this.refused += batch.length
            batch.length = 0
          }
          while (next <= target && batch.length < MAX_REPORTS_PER_STEP) {
            const report = await driver(n, next)
            if (report?.timeMs === null) {
              // No clock on the node: the gateway stamps it on arrival, i.e. now in simulated time.
              flush()
              this.simNowMs = next
              if (gateway.submit(n.id, { values: report.values }).ok) this.submitted++
              else this.refused++
            } else if (report) batch.push({ values: report.values, timeMs: report.timeMs })
            if (report) this.lastReportMs.set(n.id, next)
            // The firmware's own interval: a set_config command changes it for this node alone.
            next += driver.intervalMs?.(n.id) ?? o.reportIntervalMs
          }
          flush()
          if (next <= target) behind = true
          this.nextMs.set(n.id, next)
          await new Promise((r) => setImmediate(r))
        }
      }
      this.simNowMs = behind ? Math.min(...this.nextMs.values()) - o.reportIntervalMs : target
      if (o.endMs !== undefined && !behind && target >= o.endMs && this.queueDepth() === 0) this.finished?.()
    } catch (err) {
      this.log.error({ err }, 'simulation step failed')
    } finally {
      this.stepping = false
    }
  }

  /** The running gateway of a village (real boards submit their reports to it). */
  gatewayOf(village: string): Gateway | undefined {
    return this.gateways.get(village)
  }

  private queueDepth(): number {
    let depth = 0
    for (const g of this.gateways.values()) depth += g.health().queueDepth
    return depth
  }

  stats(): FleetStats {
    let forwarded = 0
    let queueDepth = 0
    let rejectedByServer = 0
    let refused = this.refused
    for (const g of this.gateways.values()) {
      const h = g.health()
      forwarded += h.forwarded
      queueDepth += h.queueDepth
      refused += h.refusedQueueFull
      for (const n of Object.values(h.nodes)) rejectedByServer += n.rejectedByServer ?? 0
    }
    const recent = this.simNowMs - 2 * this.opts.reportIntervalMs
    let nodesOnline = 0
    for (const t of this.lastReportMs.values()) if (t >= recent) nodesOnline++
    return {
      simNowMs: this.simNowMs,
      nodes: this.nextMs.size,
      nodesOnline,
      submitted: this.submitted,
      forwarded,
      queueDepth,
      refused,
      rejectedByServer,
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.timer)
    this.timer = undefined
    while (this.stepping) await new Promise((r) => setTimeout(r, 10))
    await Promise.all([...this.gateways.values()].map((g) => g.stop()))
    this.gateways.clear()
  }
}

const KIND: Record<SimNodeSpec['kind'], DeviceKind> = {
  weather: 'weather',
  soil: 'soil',
  dendrometer: 'dendrometer',
}

/**
 * Register the district's villages, gateways and nodes in the registry, with fresh secrets: a new
 * device gets one, an existing one has its secret rotated (secrets are stored hashed, so the
 * simulator cannot read back an old one). Returns device id → secret.
 */
export async function provisionDistrict(
  registry: Registry,
  villages: SimVillage[],
): Promise<Map<string, string>> {
  const secrets = new Map<string, string>()
  const ensure = async (id: string, village: string, kind: DeviceKind, lat?: number, lon?: number) => {
    if (registry.getDevice(id)) secrets.set(id, await registry.rotateSecret(id))
    else secrets.set(id, (await registry.addDevice({ id, village, kind, format: 'json', lat, lon })).secret)
  }
  const jobs: Array<() => Promise<void>> = []
  for (const v of villages) {
    registry.addVillage({ id: v.id, name: v.name })
    jobs.push(() => ensure(v.gatewayId, v.id, 'gateway'))
    for (const n of v.nodes) jobs.push(() => ensure(n.id, v.id, KIND[n.kind], n.latDeg, n.lonDeg))
  }
  // Hashing runs on libuv's thread pool: a few at a time keep every core busy.
  const CONCURRENCY = 8
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      for (let job = jobs.shift(); job; job = jobs.shift()) await job()
    }),
  )
  return secrets
}
