import { describe, expect, it } from 'vitest'
import {
  episodeAlerted,
  episodeAlertedFresh,
  extractEpisodes,
  falseAlerts,
  quantile,
  scoreField,
  stressRuns,
  type TruthSample,
} from '../../bench/quality-scoring.ts'

/**
 * The alert-quality benchmark's measurement on hand-made hourly series: episodes, merging, the
 * 6-hour grace, open alerts counting for the next episode, false alerts, exclusions.
 */
const H = 3_600_000

/** 'x' stressed, '.' calm, 'd' excluded (drain-down): one character per hour from t = 0. */
const series = (pattern: string): TruthSample[] =>
  [...pattern].map((c, i) => ({
    timeMs: i * H,
    stressed: c === 'x',
    ...(c === 'd' ? { excluded: true } : {}),
  }))

describe('alert-quality scoring', () => {
  it('stress runs are the maximal stressed stretches, ending at the first calm sample', () => {
    expect(stressRuns(series('..xxx..x.'))).toEqual([
      { fromMs: 2 * H, toMs: 5 * H },
      { fromMs: 7 * H, toMs: 8 * H },
    ])
    // A run still open at the end of the series ends at the last sample.
    expect(stressRuns(series('..xx'))).toEqual([{ fromMs: 2 * H, toMs: 3 * H }])
    expect(stressRuns(series('....'))).toEqual([])
  })

  it('runs split by a short calm gap are one episode; a long gap or a drain-down keeps them apart', () => {
    const s = series(`xxxx${'.'.repeat(5)}xxxx${'.'.repeat(30)}xxxx`)
    expect(extractEpisodes(s, { minMs: 2 * H, mergeGapMs: 24 * H })).toEqual([
      { fromMs: 0, toMs: 13 * H },
      { fromMs: 43 * H, toMs: 46 * H },
    ])
    expect(extractEpisodes(s, { minMs: 2 * H, mergeGapMs: 0 })).toHaveLength(3)
    expect(extractEpisodes(series('xxxx.d.xxxx'), { minMs: 2 * H, mergeGapMs: 24 * H })).toHaveLength(2)
  })

  it('episodes shorter than the rule’s duration are not counted (after merging)', () => {
    expect(extractEpisodes(series('..x...x..'), { minMs: 2 * H, mergeGapMs: 0 })).toEqual([])
    // Two 1-hour runs 3 h apart merge into a 5-hour episode.
    expect(extractEpisodes(series('..x...x..'), { minMs: 2 * H, mergeGapMs: 24 * H })).toEqual([
      { fromMs: 2 * H, toMs: 7 * H },
    ])
  })

  it('an episode is alerted by an alert fired up to 6 h after onset, not 7 h', () => {
    const e = { fromMs: 10 * H, toMs: 30 * H }
    expect(episodeAlerted(e, [{ firedAtMs: 16 * H }])).toBe(true)
    expect(episodeAlerted(e, [{ firedAtMs: 17 * H }])).toBe(false)
    expect(episodeAlerted(e, [{ firedAtMs: 2 * H, resolvedAtMs: 11 * H }])).toBe(true)
  })

  it('an alert still open at the next episode’s onset counts for it; one resolved before does not', () => {
    const e = { fromMs: 100 * H, toMs: 120 * H }
    expect(episodeAlerted(e, [{ firedAtMs: 10 * H }])).toBe(true)
    expect(episodeAlerted(e, [{ firedAtMs: 10 * H, resolvedAtMs: 99 * H }])).toBe(false)
    expect(episodeAlerted(e, [{ firedAtMs: 10 * H, resolvedAtMs: 100 * H }])).toBe(false)
  })

  it('fresh: only an alert fired from 48 h before to 6 h after the onset counts, open or not', () => {
    const e = { fromMs: 100 * H, toMs: 120 * H }
    expect(episodeAlertedFresh(e, [{ firedAtMs: 10 * H }])).toBe(false) // open since long before
    expect(episodeAlertedFresh(e, [{ firedAtMs: 52 * H }])).toBe(true)
    expect(episodeAlertedFresh(e, [{ firedAtMs: 51 * H }])).toBe(false)
    expect(episodeAlertedFresh(e, [{ firedAtMs: 106 * H }])).toBe(true)
    expect(episodeAlertedFresh(e, [{ firedAtMs: 107 * H }])).toBe(false)
  })

  it('a false alert has no stress from 24 h before to 48 h after it fired', () => {
    const runs = [{ fromMs: 100 * H, toMs: 110 * H }]
    expect(falseAlerts([{ firedAtMs: 60 * H }], runs)).toHaveLength(0) // 40 h early: a warning
    expect(falseAlerts([{ firedAtMs: 40 * H }], runs)).toHaveLength(1) // 60 h early
    expect(falseAlerts([{ firedAtMs: 130 * H }], runs)).toHaveLength(0) // 20 h after the end
    expect(falseAlerts([{ firedAtMs: 140 * H }], runs)).toHaveLength(1)
    // The farmer watered on it and the stress it foresaw never came: not false.
    expect(falseAlerts([{ firedAtMs: 140 * H, prevented: true }], runs)).toHaveLength(0)
  })

  it('scores a field: an early alert, a missed episode, a false alert, a drain-down alert', () => {
    // Hours: stress 10–19 (alert 8: 2 h early), stress 60–69 (alert 70: 10 h late), an alert at
    // 150 with nothing near, and an alert at 205 in the drain-down (stress there is excluded).
    const s = series(
      `${'.'.repeat(10)}${'x'.repeat(10)}${'.'.repeat(40)}${'x'.repeat(10)}${'.'.repeat(130)}${'d'.repeat(20)}`,
    )
    const score = scoreField(
      s,
      [
        { firedAtMs: 8 * H, resolvedAtMs: 21 * H },
        { firedAtMs: 70 * H },
        { firedAtMs: 150 * H },
        { firedAtMs: 205 * H },
      ],
      { minMs: 2 * H },
    )
    expect(score.episodes).toBe(2)
    expect(score.alerted).toBe(1)
    expect(score.alertedFresh).toBe(1)
    expect(score.missed).toEqual([{ fromMs: 60 * H, toMs: 70 * H }])
    expect(score.falseAlerts).toBe(2)
  })

  it('quantiles by nearest lower rank', () => {
    expect(quantile([0, 0, 1, 2, 13], 0.5)).toBe(1)
    expect(quantile([0, 0, 1, 2, 13], 0.95)).toBe(13)
    expect(quantile([], 0.5)).toBe(0)
  })
})
