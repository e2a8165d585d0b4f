import { describe, expect, it } from 'vitest'
import { DeviceQuotas } from '../../src/ingest/index.ts'

const DAY_MS = 86_400_000
/** 2026-12-03 00:00 WIB (UTC+7) = 2026-12-02 17:00 UTC. */
const MIDNIGHT_WIB = Date.UTC(2026, 11, 2, 17)

describe('DeviceQuotas', () => {
  it('rate: a burst, then messagesPerMinute; refusals count nothing; other devices unaffected', () => {
    const q = new DeviceQuotas({ messagesPerMinute: 60, messagesBurst: 3, readingsPerDay: 0 })
    const t = MIDNIGHT_WIB + 1000
    for (let i = 0; i < 3; i++) expect(q.admit('a', 4, t)).toBeUndefined()
    const over = q.admit('a', 4, t)
    expect(over).toMatchObject({ kind: 'rate', retryAfterMs: 1000, report: true })
    expect(over?.error.reason).toBe('rate_limited')
    expect(over?.error.message).toContain('over 60 messages per minute')
    expect(q.admit('a', 4, t + 10)?.report).toBe(false) // told once, counted always
    expect(q.admit('b', 4, t)).toBeUndefined()
    expect(q.admit('a', 4, t + 1000)).toBeUndefined()
    expect(q.admit('a', 4, t + 1000)).toBeDefined()
  })

  it('daily: readings per Asia/Jakarta day; the whole message is refused; a new day starts afresh', () => {
    const q = new DeviceQuotas({ messagesPerMinute: 0, readingsPerDay: 10 })
    const t = MIDNIGHT_WIB + DAY_MS - 60_000 // 23:59 WIB
    expect(q.admit('a', 6, t)).toBeUndefined()
    const over = q.admit('a', 6, t)
    expect(over).toMatchObject({ kind: 'daily', retryAfterMs: 60_000 })
    expect(over?.error).toMatchObject({ reason: 'quota_exceeded' })
    expect(over?.error.message).toContain('6 of 10 readings stored today')
    expect(q.admit('a', 4, t)).toBeUndefined() // what still fits is taken
    expect(q.admit('a', 1, t)).toBeDefined()
    expect(q.admit('b', 10, t)).toBeUndefined()
    expect(q.admit('a', 10, MIDNIGHT_WIB + DAY_MS)).toBeUndefined() // 00:00 WIB
  })

  it('is off with both limits 0', () => {
    const q = new DeviceQuotas({ messagesPerMinute: 0, readingsPerDay: 0 })
    const refused = Array.from({ length: 10_000 }, () => q.admit('a', 100, 0)).filter(Boolean)
    expect(refused).toEqual([])
  })
})
