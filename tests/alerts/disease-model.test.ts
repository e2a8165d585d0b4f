import { afterEach, describe, expect, it } from 'vitest'
import { parseAlertsConfig } from '../../src/alerts/config.ts'
import type { WeatherDay } from '../../src/alerts/irrigation.ts'
import { blastConduciveDay, blastConduciveRun } from '../../src/alerts/rules/index.ts'
import { MIN, only, type Rig, reading, rig, wib } from './helpers.ts'

/**
 * The rice-blast rule with its sources' own numbers (disease.ts), checked on 2026-12-03 against the
 * texts themselves:
 * - Rice Knowledge Management Portal, "Forecasting of Rice Blast disease"
 *   (rkmp.co.in/content/forecasting-of-rice-blast-disease): "minimum night temperature range of
 *   20-26 °C in association with a high relative humidity range of 90 per cent and above lasting for
 *   a period of a week or more during any of the three susceptible phases … seedling stage, post
 *   transplanting tillering stage and neck emergence stage".
 * - Kapoor, Prasad & Sood (2004), Indian Phytopathology 57(4): 440–445, abstract
 *   (epubs.icar.org.in/index.php/IPPJ/article/view/18120): "RH (more than 9 h > 90%)" as part of
 *   the optimum range for disease development. Only the abstract was found, not the paper.
 * Neither source publishes a worked example (weather series in, forecast out), so the cases are the
 * criteria's own boundaries.
 */
const cfg = parseAlertsConfig().rules.diseaseRisk
const DAY = 86_400_000
const day = (nightTMinC: number, humidHours: number): WeatherDay => ({
  nightTMinC,
  humidHours,
  windSumMs: 0,
  windN: 0,
  solarJm2: 0,
  rainMm: 0,
})
const run = (...days: WeatherDay[]) =>
  blastConduciveRun(
    // newest first, consecutive days
    days.map((d, i) => ({ dayStartMs: 100 * DAY - i * DAY, day: d })),
    cfg,
  )

describe('rice blast: conducive days and their persistence', () => {
  it('the defaults are the sources’ numbers', () => {
    expect([cfg.nightTempMinC, cfg.nightTempMaxC]).toEqual([20, 26]) // RKMP: "20-26 °C"
    expect(cfg.rhAbovePct).toBe(90) // RKMP: "90 per cent and above"
    expect(cfg.humidHoursOver).toBe(9) // Kapoor et al.: "more than 9 h"
    expect(cfg.consecutiveDays).toBe(7) // RKMP: "a week or more"
  })

  it('a day needs both: night minimum 20–26 °C and more than 9 humid hours', () => {
    expect(blastConduciveDay(day(20, 9.5), cfg)).toBe(true)
    expect(blastConduciveDay(day(26, 14), cfg)).toBe(true)
    expect(blastConduciveDay(day(19.9, 14), cfg)).toBe(false) // too cool a night
    expect(blastConduciveDay(day(26.1, 14), cfg)).toBe(false) // too warm a night
    expect(blastConduciveDay(day(22, 9), cfg)).toBe(false) // "more than 9 h": 9 is not enough
    expect(blastConduciveDay({ windSumMs: 0, windN: 0, solarJm2: 0, rainMm: 0 }, cfg)).toBe(false) // no data
  })

  it('a week of them in a row, not one humid night', () => {
    const wet = day(22, 12)
    const dry = day(22, 4)
    expect(cfg.consecutiveDays).toBe(7)
    expect(run(wet)).toBe(1)
    expect(run(wet, wet, wet, wet, wet, wet)).toBe(6)
    expect(run(wet, wet, wet, wet, wet, wet, wet)).toBe(7)
    // A dry day breaks the run; the newest days count.
    expect(run(wet, wet, wet, dry, wet, wet, wet, wet)).toBe(3)
    expect(run(dry, wet, wet, wet, wet, wet, wet, wet)).toBe(0)
    // A missing day (no weather that day) breaks it too.
    expect(
      blastConduciveRun(
        [
          { dayStartMs: 10 * DAY, day: wet },
          { dayStartMs: 8 * DAY, day: wet },
        ],
        cfg,
      ),
    ).toBe(1)
  })
})

describe('humid hours follow the rule’s rhAbovePct', () => {
  let r: Rig | undefined
  afterEach(async () => {
    await r?.stop()
    r = undefined
  })

  // Four hours of RH 92 % at the village station, a reading every 30 min.
  const humidHoursAt = async (rhAbovePct?: number) => {
    const t0 = wib(2026, 7, 2, 0)
    const base = only('disease')
    r = await rig(
      {
        ...base,
        rules: { ...base.rules, diseaseRisk: { enabled: true, ...(rhAbovePct && { rhAbovePct }) } },
      },
      { startMs: t0 },
    )
    for (let m = 0; m <= 4 * 60; m += 30) {
      const t = t0 + m * MIN
      r.clock.now = t
      r.engine.onReadings([reading('wx-1', 'relative_humidity', 92, t)])
    }
    const hours = r.engine.advisor.weatherDay('kemiren', t0)?.humidHours
    await r.stop()
    r = undefined
    return hours
  }

  it('92 % counts as humid at the default 90 %, not when the officer sets 95 %', async () => {
    expect(await humidHoursAt()).toBeCloseTo(4, 9)
    expect(await humidHoursAt(95)).toBe(0)
  })
})
