import { describe, expect, it } from 'vitest'
import type { Fleet } from '../../firmware-sim/index.ts'
import { Progress } from '../../src/cli/sim.ts'
import { Metrics } from '../../src/metrics.ts'

/** The status line of `npm start`: its "rejected" is what /metrics counts, whoever sent it. */
describe('simulation status line', () => {
  const fleet = {
    stats: () => ({
      simNowMs: Date.now(),
      nodes: 18,
      nodesOnline: 18,
      submitted: 0,
      forwarded: 0,
      queueDepth: 0,
      rejectedByServer: 0,
      refused: 0,
    }),
  } as unknown as Fleet

  it('counts readings the service rejected from any sender (a mosquitto_pub beside the simulator)', async () => {
    const metrics = new Metrics()
    const progress = new Progress(fleet, metrics, () => {})
    expect(await progress.report()).toMatch(/rejected 0$/)
    metrics.readingsRejected.inc({ reason: 'out_of_range' })
    metrics.readingsRejected.inc({ reason: 'bad_time' }, 2)
    expect(await progress.report()).toMatch(/rejected 3$/)
  })
})
