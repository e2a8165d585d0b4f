import { describe, expect, it } from 'vitest'
import { parseAlertsConfig } from '../../src/alerts/config.ts'
import type { WeatherDay } from '../../src/alerts/irrigation.ts'
import { blastConduciveDay, blastConduciveRun } from '../../src/alerts/rules/index.ts'

/**
 * The rice-blast rule with its sources' own numbers (disease.ts): a conducive day has its night
 * minimum within 20–26 °C (ICAR-DRR, Rice Knowledge Management Portal) and more than 9 h with
 * RH ≥ 90 % (Kapoor, Prasad & Sood 2004); the forecast needs such conditions "lasting for a period
 * of a week or more". Neither source publishes a worked example, so the cases are the criteria's
 * own boundaries.
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
