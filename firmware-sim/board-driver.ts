import type { SimNodeSpec } from './district.ts'
import type { NodeDriver, NodeReport } from './fleet.ts'
import { defaultWaterLevel } from './node/calibration.ts'
import { createSimNode, type Environment, type SimNodeDriver } from './node/sim-node.ts'

/** Sample readings the firmware has no sensor for (GPS position) pass straight through. */
const PASS_THROUGH = new Set(['latitude', 'longitude', 'altitude'])

/**
 * Drives every simulated node through its johnny-five firmware on a mock Firmata board: the
 * models give physical truth (after faults), the board turns it into pin signals, and the report is
 * what the firmware read from its johnny-five components. A board starts on a node's first report
 * (a dendrometer is calibrated to the stem it is mounted on then).
 */
export function boardDriver(reportIntervalMs: number): NodeDriver & { stop(): void } {
  const boards = new Map<string, Promise<SimNodeDriver>>()
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
    }
    return board
  }

  const driver = async (spec: SimNodeSpec, timeMs: number): Promise<NodeReport | null> => {
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
    stop() {
      for (const board of boards.values()) void board.then((b) => b.stop())
      boards.clear()
    },
  })
}
