import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { DeviceAuthLimits } from '../../src/registry/auth-limits.ts'
import { hashSecret, Registry } from '../../src/registry/index.ts'

describe('DeviceAuthLimits', () => {
  it('spends only failures: after the burst an address is refused unchecked, then regains', () => {
    const limits = new DeviceAuthLimits({
      perAddress: { burst: 3, perMinute: 60 },
      perDevice: { burst: 100, perMinute: 60 },
    })
    const t0 = 1_000_000
    for (let i = 0; i < 10; i++) {
      const ok = limits.attempt(`dev-${i}`, '10.0.0.1', t0)
      if (!ok.ok) throw new Error('a success must not spend the budget')
      ok.release()
    }
    for (let i = 0; i < 3; i++) {
      const a = limits.attempt(`dev-${i}`, '10.0.0.1', t0)
      expect(a.ok).toBe(true)
      if (a.ok) a.fail()
    }
    const refused = limits.attempt('dev-9', '10.0.0.1', t0)
    expect(refused).toEqual({ ok: false, retryAfterMs: 1000 })
    expect(limits.attempt('dev-9', '10.0.0.2', t0).ok).toBe(true) // another address is unaffected
    expect(limits.attempt('dev-9', '10.0.0.1', t0 + 999).ok).toBe(false)
    expect(limits.attempt('dev-9', '10.0.0.1', t0 + 1000).ok).toBe(true) // one per second regained
  })

  it('limits an id from any address, unknown ids exactly like known ones', () => {
    const limits = new DeviceAuthLimits({
      perAddress: { burst: 1000, perMinute: 60 },
      perDevice: { burst: 2, perMinute: 1 },
    })
    for (const id of ['soil-1', 'never-registered']) {
      for (const address of ['10.0.0.1', '10.0.0.2']) {
        const a = limits.attempt(id, address, 0)
        expect(a.ok).toBe(true)
        if (a.ok) a.fail()
      }
      expect(limits.attempt(id, '10.0.0.3', 0)).toEqual({ ok: false, retryAfterMs: 60_000 })
    }
  })

  it('an id under attack from elsewhere still gets in from the address it last succeeded from', () => {
    const limits = new DeviceAuthLimits({
      perAddress: { burst: 1000, perMinute: 60 },
      perDevice: { burst: 3, perMinute: 1 },
    })
    const good = limits.attempt('soil-1', '10.0.0.1', 0)
    if (!good.ok) throw new Error('first attempt refused')
    good.release()
    for (let i = 0; i < 3; i++) {
      const a = limits.attempt('soil-1', '10.6.6.6', 0)
      if (a.ok) a.fail()
    }
    expect(limits.attempt('soil-1', '10.6.6.6', 0).ok).toBe(false)
    expect(limits.attempt('soil-1', '10.0.0.7', 0).ok).toBe(false) // a new address: the id's budget applies
    const again = limits.attempt('soil-1', '10.0.0.1', 0)
    expect(again.ok).toBe(true)
    // failures from the trusted address spend only that address's budget, not the id's
    if (again.ok) again.fail()
    expect(limits.attempt('soil-1', '10.0.0.1', 0).ok).toBe(true)
  })

  it('forgets regained budgets first and stays bounded under a flood of distinct ids', () => {
    const limits = new DeviceAuthLimits({
      perAddress: { burst: 1_000_000, perMinute: 60 },
      perDevice: { burst: 1, perMinute: 1 },
      maxTrackedKeys: 100,
    })
    for (let i = 0; i < 10_000; i++) {
      const a = limits.attempt(`guess-${i}`, '10.0.0.1', 0)
      if (a.ok) a.fail()
    }
    const tracked = (limits as unknown as { byDevice: { buckets: Map<string, unknown> } }).byDevice.buckets
    expect(tracked.size).toBeLessThanOrEqual(100)
    expect(tracked.has('guess-9999')).toBe(true) // the newest are kept, the oldest forgotten
  })
})

describe('Registry.authenticateDevice', () => {
  let registry: Registry
  let secret: string

  beforeEach(async () => {
    registry = new Registry({
      path: ':memory:',
      schemas: [],
      deviceAuth: {
        perAddress: { burst: 5, perMinute: 1 },
        perDevice: { burst: 100, perMinute: 1 },
        refusalMinMs: 40,
      },
    })
    await registry.start()
    registry.addVillage({ id: 'desa-a', name: 'Desa A' })
    ;({ secret } = await registry.addDevice({
      id: 'soil-1',
      village: 'desa-a',
      kind: 'soil',
      format: 'json',
    }))
  })

  afterEach(() => registry.stop())

  it('answers a success at once and every refusal after refusalMinMs', async () => {
    // A success is not held to refusalMinMs (40 ms here): the fastest of five is well under it, even on
    // a loaded machine where one call may stall (a held success would make every one ≥ 50 ms).
    const successMs: number[] = []
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now()
      const ok = await registry.authenticateDevice('soil-1', secret, '10.0.0.1')
      successMs.push(performance.now() - t0)
      expect(ok).toMatchObject({ ok: true, device: { id: 'soil-1' } })
    }
    expect(Math.min(...successMs)).toBeLessThan(25)
    let started = performance.now()
    for (const [id, guess] of [
      ['soil-1', `${secret}x`],
      ['ghost', secret],
    ] as const) {
      started = performance.now()
      expect(await registry.authenticateDevice(id, guess, '10.0.0.1')).toEqual({
        ok: false,
        reason: 'bad_credentials',
      })
      expect(performance.now() - started).toBeGreaterThanOrEqual(40)
    }
  })

  it('reserves the budget before checking: concurrent wrong secrets on a legacy hash are checked at most burst times', async () => {
    // scrypt runs on the thread pool: 30 attempts are in flight together, as 30 parallel CONNECTs are
    registry
      .database()
      .prepare('UPDATE devices SET secret_hash = ? WHERE id = ?')
      .run(await hashSecret('old-secret'), 'soil-1')
    const results = await Promise.all(
      Array.from({ length: 30 }, () => registry.authenticateDevice('soil-1', 'wrong', '10.0.0.9')),
    )
    const reasons = results.map((r) => (r.ok ? 'ok' : r.reason))
    expect(reasons.filter((r) => r === 'bad_credentials')).toHaveLength(5)
    expect(reasons.filter((r) => r === 'throttled')).toHaveLength(25)
    // the right secret from the same address now waits too; from another it passes (and upgrades)
    expect((await registry.authenticateDevice('soil-1', 'old-secret', '10.0.0.9')).ok).toBe(false)
    expect((await registry.authenticateDevice('soil-1', 'old-secret', '10.0.0.8')).ok).toBe(true)
  })

  it('lets a storm of good devices from one address in, HMAC and legacy scrypt alike', async () => {
    // burst 5 per address: successes must never be starved by their own checks in flight
    const db = registry.database()
    const devices: Array<[string, string]> = []
    for (let i = 0; i < 40; i++) {
      const { secret: s } = await registry.addDevice({
        id: `n-${i}`,
        village: 'desa-a',
        kind: 'soil',
        format: 'json',
      })
      devices.push([`n-${i}`, s])
    }
    for (let i = 0; i < 20; i++) {
      const legacy = `legacy-${i}`
      devices[i]![1] = legacy
      db.prepare('UPDATE devices SET secret_hash = ? WHERE id = ?').run(await hashSecret(legacy), `n-${i}`)
    }
    const results = await Promise.all(
      devices.map(([id, s]) => registry.authenticateDevice(id, s, '10.0.0.7')),
    )
    expect(results.filter((r) => r.ok)).toHaveLength(40)
    const hashes = db.prepare("SELECT secret_hash FROM devices WHERE id LIKE 'n-%'").pluck().all() as string[]
    expect(hashes.every((h) => h.startsWith('hmac-sha256$'))).toBe(true)
  })
})
