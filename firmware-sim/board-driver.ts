import type { SimNodeSpec } from './district.ts'
import type { NodeDriver, NodeReport } from './fleet.ts'
import { SoilModel } from './models/index.ts'
import { defaultWaterLevel } from './node/calibration.ts'
import type { NodeFirmware } from './node/firmware.ts'
import { createSimNode, type Environment, type SimNodeDriver } from './node/sim-node.ts'

/** Sample readings the firmware has no sensor for (GPS position) pass straight through. */
const PASS_THROUGH = new Set(['latitude', 'longitude', 'altitude'])

/**
 * Drives every simulated node through its johnny-five firmware on a mock Firmata board: the
 * models give physical truth (after faults), the board turns it into pin signals, and the report is
 * what the firmware read from its johnny-five components. A board starts on a node's first report
 * (a dendrometer is calibrated to the stem it is mounted on then).
 */
/**
 * Water a field's valve lets through while open, as mm over the field: a 2-inch inlet gives about
 * 5 L/s, i.e. 0.3 mm/min on a 0.1 ha field; 0.5 mm/min is a generous paddy inlet.
 */
export const defaultValveFlowMmPerMin = 0.5

export function boardDriver(
  reportIntervalMs: number,
  opts: { valveFlowMmPerMin?: number } = {},
): NodeDriver & { stop(): void; firmwareOf(nodeId: string): NodeFirmware | undefined } {
  const boards = new Map<string, Promise<SimNodeDriver>>()
  /** Boards that have started: their firmware takes commands and keeps its own interval. */
  const ready = new Map<string, SimNodeDriver>()
  const truth = new Map<string, Environment>()

  const boardFor = (spec: SimNodeSpec, env: Environment): Promise<SimNodeDriver> => {
    let board = boards.get(spec.id)
    if (!board) {
      const common = { deviceId: spec.id, sensor: 'main', intervalMs: reportIntervalMs }
      const config =
        spec.kind === 'dendrometer'
          ? {
              kind: 'dendrometer' as const,
              ...common,
              dendrometer: { baseDiameterUm: env.stem_diameter ?? 20_000 },
            }
          : spec.kind === 'soil' && env.water_level !== undefined
            ? // A paddy node: its AWD tube's transducer on A3.
              { kind: 'soil' as const, ...common, waterLevel: defaultWaterLevel }
            : { kind: spec.kind, ...common }
      board = createSimNode({ config, environment: () => truth.get(spec.id) ?? {} })
      boards.set(spec.id, board)
      board
        .then((b) => {
          ready.set(spec.id, b)
          waterFromValve(spec, b)
        })
        .catch(() => {}) // the failure surfaces in the step
    }
    return board
  }

  /** The simulated time of each node's latest step: where its valve's water lands. */
  const lastStepMs = new Map<string, number>()
  const flowMmPerMin = opts.valveFlowMmPerMin ?? defaultValveFlowMmPerMin
  // The valve is timed on the node's real clock: the water it let through goes into the field's
  // soil model when it closes, at the node's current simulated time.
  const waterFromValve = (spec: SimNodeSpec, board: SimNodeDriver) => {
    const model = spec.node.model
    if (!(model instanceof SoilModel)) return
    let openedAtMs: number | undefined
    board.firmware.on('valve', (open: boolean) => {
      if (open) openedAtMs = Date.now()
      else if (openedAtMs !== undefined) {
        const mm = (flowMmPerMin * (Date.now() - openedAtMs)) / 60_000
        openedAtMs = undefined
        model.irrigate(lastStepMs.get(spec.id) ?? 0, mm)
      }
    })
  }

  const driver = async (spec: SimNodeSpec, timeMs: number): Promise<NodeReport | null> => {
    lastStepMs.set(spec.id, timeMs)
    const sample = spec.node.sample(timeMs)
    if (!sample) return null
    const env: Environment = {}
    const passed: Record<string, number> = {}
    for (const r of sample.readings) {
      if (PASS_THROUGH.has(r.quantity)) passed[r.quantity] = r.value
      else if (r.quantity === 'rainfall') env.rain_mm_since_last = r.value
      else (env as Record<string, number>)[r.quantity] = r.value
    }
    truth.set(spec.id, env)
    const board = await boardFor(spec, env)
    const report = board.step(timeMs)
    const values: Record<string, number> = { ...report.reading.values, ...passed }
    // The board reads every sensor it has; report only what the model says is there (a fault may
    // have dropped a quantity).
    for (const q of Object.keys(values)) {
      const modelled = q === 'rainfall' ? 'rain_mm_since_last' in env : q in env || q in passed
      if (!modelled) delete values[q]
    }
    return { timeMs: sample.timeMs, values }
  }
  return Object.assign(driver, {
    /** A command for a node whose board has not started yet gets no answer: it is sent again. */
    command(nodeId: string, payload: Buffer) {
      return ready.get(nodeId)?.firmware.handleCommand(payload)
    },
    intervalMs(nodeId: string) {
      return ready.get(nodeId)?.firmware.intervalMs
    },
    /** A started node's firmware (tests, demos: its valve, its interval). */
    firmwareOf(nodeId: string) {
      return ready.get(nodeId)?.firmware
    },
    stop() {
      for (const board of boards.values()) void board.then((b) => b.stop())
      boards.clear()
      ready.clear()
    },
  })
}
