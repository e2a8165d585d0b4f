import { afterEach, describe, expect, it, vi } from 'vitest'
import type { Reading } from '../../src/telemetry/reading.ts'
import { only, type Rig, rig } from './helpers.ts'

let r: Rig | undefined
afterEach(async () => {
  await r?.stop()
  r = undefined
})

const reading = (i: number): Reading => ({
  timeMs: Date.UTC(2026, 6, 1, 1) + i,
  village: 'kemiren',
  device: 'soil-1',
  sensor: 'main',
  quantity: 'soil_moisture',
  value: 30,
})
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe('enqueueReadings batches as alerts.batchMaxWaitMs and alerts.batchMaxReadings say', () => {
  it('evaluates a full batch at once, and the rest after the window', async () => {
    r = await rig({ ...only('dry'), batchMaxWaitMs: 150, batchMaxReadings: 3 })
    const evaluated: number[] = []
    vi.spyOn(r.engine, 'onReadings').mockImplementation((rs) => {
      evaluated.push(rs.length)
    })
    r.engine.enqueueReadings([reading(1), reading(2)])
    await sleep(20)
    expect(evaluated).toEqual([]) // inside the window, below the maximum
    r.engine.enqueueReadings([reading(3)])
    expect(evaluated).toEqual([]) // never inside the caller
    await sleep(20)
    expect(evaluated).toEqual([3])
    r.engine.enqueueReadings([reading(4)])
    await sleep(50)
    expect(evaluated).toEqual([3])
    await sleep(200)
    expect(evaluated).toEqual([3, 1])
  })

  it('retries a batch whose evaluation failed, in order with the later ones, and never skips it', async () => {
    r = await rig({ ...only('dry'), batchMaxWaitMs: 10, batchMaxReadings: 100 })
    const engine = r.engine
    const evaluated: number[][] = []
    let failing = true
    vi.spyOn(engine, 'onReadings').mockImplementation((rs) => {
      if (failing) throw new Error('SQLITE_FULL: database or disk is full')
      evaluated.push(rs.map((x) => x.timeMs - reading(0).timeMs))
    })
    engine.enqueueReadings([reading(1), reading(2)])
    await sleep(40)
    expect(engine.evaluationBacklog()).toMatchObject({
      readings: 2,
      error: expect.stringMatching(/SQLITE_FULL/),
    })
    engine.enqueueReadings([reading(3)])
    await sleep(40)
    expect(engine.evaluationBacklog().readings).toBe(3)
    expect(evaluated).toEqual([])
    failing = false
    await sleep(1_200) // the first retry comes after 1 s
    expect(evaluated).toEqual([[1, 2], [3]])
    expect(engine.evaluationBacklog()).toEqual({ readings: 0, droppedReadings: 0 })
  })
})
