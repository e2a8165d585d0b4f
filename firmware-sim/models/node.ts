import {
  type FaultedSample,
  FaultInjector,
  type FaultSpec,
  isModelFault,
  type ModelFaultSpec,
} from './faults.ts'
import { type NodeStatusOptions, statusReadings } from './status.ts'
import type { SteppableModel } from './types.ts'

export interface SimNodeOptions {
  /** The physics the node senses (a weather station, a field's soil, a tree's stem). */
  model: SteppableModel
  faults?: readonly FaultSpec[]
  /** Seed of the fault decisions. */
  seed: number
  /** Report battery voltage (and position, when given) with every sample; default true. */
  status?: boolean | NodeStatusOptions
}

/**
 * One simulated node: its model's readings plus its own status, passed through its faults.
 * `sample(t)` is what the node would send at simulated time t (null: nothing is sent).
 */
export class SimNode {
  /** What the node senses (the fleet hands a field's soil model the water its valve lets through). */
  readonly model: SteppableModel
  private readonly faults: FaultInjector
  private readonly status: NodeStatusOptions | undefined

  constructor(options: SimNodeOptions) {
    this.model = options.model
    this.faults = new FaultInjector({ specs: options.faults ?? [], seed: options.seed })
    // Model faults (a tree that dies, a sensor put on a post) change the physics: the model gets them.
    const modelFaults = this.faults.specs.filter(isModelFault)
    if (modelFaults.length > 0) {
      const target = this.model as Partial<{ addCondition(spec: ModelFaultSpec): void }>
      if (typeof target.addCondition !== 'function')
        throw new TypeError(`fault ${modelFaults[0]!.kind} needs a stem model (StemModel)`)
      for (const f of modelFaults) target.addCondition(f)
    }
    const status = options.status ?? true
    this.status = status === false ? undefined : status === true ? {} : status
  }

  sample(toMs: number): FaultedSample | null {
    const readings = this.model.step(toMs)
    if (this.status) readings.push(...statusReadings(toMs, this.status))
    return this.faults.apply(toMs, readings)
  }
}
