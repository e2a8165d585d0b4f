import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { Metrics } from '../../src/metrics.ts'
import {
  ConsoleSender,
  jakartaDay,
  KannelSender,
  Outbox,
  type OutboxOptions,
} from '../../src/notify/index.ts'
import { waitFor } from '../harness/app.ts'
import { freePort } from '../harness/ports.ts'
import { runAtOnce } from '../harness/process.ts'

/** 2026-03-10 00:00 WIB (UTC+7) = 2026-03-09 17:00 UTC. */
const MIDNIGHT_WIB = Date.UTC(2026, 2, 9, 17, 0, 0)
const HOUR = 3600_000

describe('Outbox', () => {
  const cleanup: Array<() => Promise<void> | void> = []
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c()
  })

  async function open(opts: Partial<OutboxOptions> & { now: { ms: number } }, dir?: string) {
    const d = dir ?? mkdtempSync(path.join(os.tmpdir(), 'kampung-outbox-'))
    if (!dir) cleanup.push(() => rmSync(d, { recursive: true, force: true }))
    const sent: Array<{ to: string; text: string }> = []
    const { now, ...rest } = opts
    const outbox = new Outbox({
      path: path.join(d, 'outbox.sqlite'),
      sender: new ConsoleSender({ write: (l) => sent.push({ to: l.to, text: l.text }) }),
      clock: () => now.ms,
      pollIntervalMs: 0,
      ...rest,
    })
    await outbox.start()
    cleanup.push(() => outbox.stop())
    return { outbox, sent, dir: d }
  }

  it('holds a 02:00 WIB message until notBeforeMs; a critical one goes at once', async () => {
    const now = { ms: MIDNIGHT_WIB + 2 * HOUR }
    const { outbox, sent } = await open({ now })
    const held = outbox.enqueue({
      key: 'alert:1:firing:1',
      to: '+6281200000001',
      text: 'Sawah 1 kering',
      notBeforeMs: MIDNIGHT_WIB + 5 * HOUR,
    })
    const urgent = outbox.enqueue({
      key: 'alert:2:firing:1',
      to: '+6281200000001',
      text: 'Banjir!',
      critical: true,
    })
    expect(await outbox.dispatchDue()).toBe(1)
    expect(sent.map((s) => s.text)).toEqual(['Banjir!'])
    expect(outbox.get(held.id)!.state).toBe('queued')
    now.ms = MIDNIGHT_WIB + 5 * HOUR - 1
    expect(await outbox.dispatchDue()).toBe(0)
    now.ms = MIDNIGHT_WIB + 5 * HOUR
    expect(await outbox.dispatchDue()).toBe(1)
    expect(sent.map((s) => s.text)).toEqual(['Banjir!', 'Sawah 1 kering'])
    await waitFor('both delivered', () => outbox.list({ state: 'delivered' }).length === 2)
    expect(outbox.get(urgent.id)!.acceptedMs).toBe(MIDNIGHT_WIB + 2 * HOUR)
    expect(outbox.get(held.id)!.acceptedMs).toBe(MIDNIGHT_WIB + 5 * HOUR)
  })

  it('keeps a daily segment budget per recipient and Asia/Jakarta day; critical messages pass', async () => {
    const now = { ms: MIDNIGHT_WIB + 23 * HOUR } // 23:00 WIB
    const metrics = new Metrics()
    const { outbox, sent } = await open({ now, dailySegmentBudget: 3, metrics })
    const farmer = '+6281200000001'
    const a = outbox.enqueue({ key: 'a', to: farmer, text: 'satu' })
    const b = outbox.enqueue({ key: 'b', to: farmer, text: 'x'.repeat(161) }) // two segments
    expect(outbox.get(b.id)!.segments).toBe(2)
    const c = outbox.enqueue({ key: 'c', to: farmer, text: 'lebih' })
    const d = outbox.enqueue({ key: 'd', to: farmer, text: 'kritis', critical: true })
    const other = outbox.enqueue({ key: 'e', to: '+6281200000002', text: 'tetangga' })
    expect(await outbox.dispatchDue()).toBe(4)
    expect(outbox.get(a.id)!.budgetDay).toBe('2026-03-10')
    expect(outbox.get(c.id)).toMatchObject({ state: 'failed', reason: 'budget' })
    expect(outbox.get(c.id)!.detail).toContain('used 3 of 3 segments on 2026-03-10')
    expect(['accepted', 'delivered']).toContain(outbox.get(d.id)!.state)
    expect(['accepted', 'delivered']).toContain(outbox.get(other.id)!.state)
    expect(sent.map((s) => s.text)).not.toContain('lebih')
    // 23:59 WIB is the same day; 00:00 WIB the next.
    now.ms = MIDNIGHT_WIB + 24 * HOUR - 60_000
    outbox.enqueue({ key: 'f', to: farmer, text: 'masih hari ini' })
    await outbox.dispatchDue()
    expect(outbox.getByKey('f')).toMatchObject({ state: 'failed', reason: 'budget' })
    now.ms = MIDNIGHT_WIB + 24 * HOUR
    expect(jakartaDay(now.ms)).toBe('2026-03-11')
    outbox.enqueue({ key: 'g', to: farmer, text: 'hari baru' })
    expect(await outbox.dispatchDue()).toBe(1)
    expect(outbox.getByKey('g')!.budgetDay).toBe('2026-03-11')
    const text = await metrics.registry.metrics()
    expect(text).toContain('kampung_sms_failed_total{reason="budget"} 2')
    expect(text).toMatch(/kampung_sms_outbox_depth\{state="failed"\} 2/)
    expect(text).toMatch(/kampung_sms_accepted_total\{sender="console"\} 5/)
  })

  it('retries a down gateway with exponential backoff, then fails max_attempts', async () => {
    const now = { ms: MIDNIGHT_WIB + 8 * HOUR }
    const dead = await freePort() // nothing listens: connection refused, like a stopped smsbox
    const d = mkdtempSync(path.join(os.tmpdir(), 'kampung-outbox-'))
    cleanup.push(() => rmSync(d, { recursive: true, force: true }))
    const outbox = new Outbox({
      path: path.join(d, 'outbox.sqlite'),
      sender: new KannelSender({
        sendsmsUrl: `http://127.0.0.1:${dead}/cgi-bin/sendsms`,
        username: 'u',
        password: 'p',
        callbackBaseUrl: 'http://127.0.0.1:1/api/v1',
      }),
      clock: () => now.ms,
      pollIntervalMs: 0,
      retryBaseMs: 1000,
      retryMaxMs: 3000,
      maxAttempts: 4,
    })
    await outbox.start()
    cleanup.push(() => outbox.stop())
    const { id } = outbox.enqueue({ key: 'k', to: '+6281200000001', text: 'coba lagi' })
    const t0 = now.ms
    expect(await outbox.dispatchDue()).toBe(0)
    expect(outbox.get(id)).toMatchObject({
      state: 'queued',
      attempts: 1,
      reason: 'gateway_down',
      nextAttemptMs: t0 + 1000,
    })
    now.ms = t0 + 999
    await outbox.dispatchDue()
    expect(outbox.get(id)!.attempts).toBe(1)
    now.ms = t0 + 1000
    await outbox.dispatchDue()
    expect(outbox.get(id)).toMatchObject({ attempts: 2, nextAttemptMs: t0 + 1000 + 2000 })
    now.ms = t0 + 3000
    await outbox.dispatchDue()
    expect(outbox.get(id)).toMatchObject({ attempts: 3, nextAttemptMs: t0 + 3000 + 3000 }) // capped at retryMaxMs
    now.ms = t0 + 6000
    await outbox.dispatchDue()
    expect(outbox.get(id)).toMatchObject({ state: 'failed', reason: 'max_attempts', attempts: 4 })
    expect(outbox.get(id)!.budgetDay).toBeUndefined() // never reached a phone: not charged
  })

  it('drops a message not accepted within maxAgeMs of being due', async () => {
    const now = { ms: MIDNIGHT_WIB }
    const dead = await freePort()
    const d = mkdtempSync(path.join(os.tmpdir(), 'kampung-outbox-'))
    cleanup.push(() => rmSync(d, { recursive: true, force: true }))
    const outbox = new Outbox({
      path: path.join(d, 'outbox.sqlite'),
      sender: new KannelSender({
        sendsmsUrl: `http://127.0.0.1:${dead}/`,
        username: 'u',
        password: 'p',
        callbackBaseUrl: 'http://127.0.0.1:1/',
      }),
      clock: () => now.ms,
      pollIntervalMs: 0,
      retryBaseMs: 1000,
      maxAgeMs: 10 * 60_000,
    })
    await outbox.start()
    cleanup.push(() => outbox.stop())
    const { id } = outbox.enqueue({
      key: 'k',
      to: '+6281200000001',
      text: 'basi',
      notBeforeMs: MIDNIGHT_WIB + HOUR,
    })
    now.ms = MIDNIGHT_WIB + HOUR
    await outbox.dispatchDue()
    expect(outbox.get(id)!.state).toBe('queued')
    now.ms = MIDNIGHT_WIB + HOUR + 10 * 60_000 + 1
    await outbox.dispatchDue()
    expect(outbox.get(id)).toMatchObject({ state: 'failed', reason: 'max_age', attempts: 1 })
  })

  it('is durable: what was enqueued is sent after a restart, and its key is still taken', async () => {
    const now = { ms: MIDNIGHT_WIB + 9 * HOUR }
    const first = await open({ now })
    const { id } = first.outbox.enqueue({ key: 'alert:7:firing:1', to: '+6281200000001', text: 'tetap ada' })
    await first.outbox.stop()
    const second = await open({ now }, first.dir)
    expect(
      second.outbox.enqueue({ key: 'alert:7:firing:1', to: '+6281200000001', text: 'tetap ada' }),
    ).toEqual({
      id,
      state: 'queued',
      duplicate: true,
    })
    expect(await second.outbox.dispatchDue()).toBe(1)
    expect(second.sent).toHaveLength(1)
  })

  it('refuses an empty key (a caller bug) with a non-retryable error', async () => {
    const { outbox } = await open({ now: { ms: MIDNIGHT_WIB } })
    expect(() => outbox.enqueue({ key: '', to: '+6281200000001', text: 'x' })).toThrow(/non-empty key/)
  })

  it('processes opening one fresh outbox at once take turns (state workers wrongly sharing it)', async () => {
    const d = mkdtempSync(path.join(os.tmpdir(), 'kampung-outbox-'))
    cleanup.push(() => rmSync(d, { recursive: true, force: true }))
    const file = path.join(d, 'outbox.sqlite')
    const runs = await runAtOnce(
      8,
      "import { ConsoleSender, Outbox } from './src/notify/index.ts'",
      'const o = new Outbox({ path: FILE, sender: new ConsoleSender({ write() {} }), pollIntervalMs: 0 }); await o.start(); await o.stop()',
      file,
    )
    expect(runs).toEqual(Array.from({ length: 8 }, () => ({ code: 0, err: '' })))
  }, 60_000)
})
