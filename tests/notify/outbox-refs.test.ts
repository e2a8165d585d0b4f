import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { KampungError } from '../../src/errors.ts'
import { type DeliveryReport, Outbox, type SmsSender, type SubmitRequest } from '../../src/notify/index.ts'

/** A sender the test drives: it records submissions, fails them on demand and emits reports. */
function scriptedSender() {
  const submitted: SubmitRequest[] = []
  const reports: Array<(r: DeliveryReport) => void> = []
  let failNext = false
  const sender: SmsSender = {
    name: 'scripted',
    async start() {},
    async stop() {},
    async submit(msg) {
      submitted.push(msg)
      if (failNext) {
        failNext = false
        throw new KampungError('gateway_busy', 'try later', { retryable: true })
      }
      return {}
    },
    onDeliveryReport(cb) {
      reports.push(cb)
    },
    onInbound() {},
  }
  return {
    sender,
    submitted,
    failNext: () => {
      failNext = true
    },
    report: (r: DeliveryReport) => {
      for (const cb of reports) cb(r)
    },
  }
}

describe('Outbox: delivery report references and replies to unregistered numbers', () => {
  const cleanup: Array<() => Promise<void> | void> = []
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c()
  })

  async function open(opts: Partial<ConstructorParameters<typeof Outbox>[0]> = {}) {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'kampung-outbox-refs-'))
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }))
    const s = scriptedSender()
    const now = { ms: Date.UTC(2026, 11, 3, 3) }
    const outbox = new Outbox({
      path: path.join(dir, 'outbox.sqlite'),
      sender: s.sender,
      clock: () => now.ms,
      pollIntervalMs: 0,
      retryBaseMs: 1000,
      ...opts,
    })
    await outbox.start()
    cleanup.push(() => outbox.stop())
    return { outbox, now, ...s }
  }

  it('gives every submission a random 128-bit reference, new for each attempt', async () => {
    const { outbox, submitted, failNext, now } = await open()
    const a = outbox.enqueue({ key: 'a', to: '+6281200000001', text: 'satu' })
    const b = outbox.enqueue({ key: 'b', to: '+6281200000002', text: 'dua' })
    failNext()
    await outbox.dispatchDue()
    now.ms += 1000
    await outbox.dispatchDue()
    expect(submitted.map((m) => m.id)).toEqual([a.id, b.id, a.id])
    const refs = submitted.map((m) => m.ref)
    for (const ref of refs) expect(ref).toMatch(/^[A-Za-z0-9_-]{22}$/)
    expect(new Set(refs).size).toBe(3) // the retry of `a` has a new one
  })

  it('a report naming a message sent back to the queue (or an unknown reference) changes nothing', async () => {
    const { outbox, submitted, failNext, report, now } = await open()
    const { id } = outbox.enqueue({ key: 'k', to: '+6281200000001', text: 'pesan' })
    failNext()
    await outbox.dispatchDue()
    expect(outbox.get(id)).toMatchObject({ state: 'queued', reason: 'gateway_busy' })
    // The refused attempt's reference, the bare outbox id, a made-up reference: all ignored.
    report({ id: 0, ref: submitted[0]!.ref, state: 'delivered' })
    report({ id: 0, ref: 'AAAAAAAAAAAAAAAAAAAAAA', state: 'delivered' })
    expect(outbox.get(id)).toMatchObject({ state: 'queued', attempts: 1 })
    report({ id, state: 'delivered' })
    expect(outbox.get(id)).toMatchObject({ state: 'queued', attempts: 1 })
    // It is still sent, and its own report settles it.
    now.ms += 1000
    expect(await outbox.dispatchDue()).toBe(1)
    expect(submitted).toHaveLength(2)
    report({ id: 0, ref: submitted[1]!.ref, state: 'delivered' })
    expect(outbox.get(id)).toMatchObject({ state: 'delivered', attempts: 2 })
  })

  it('replies to unregistered numbers are off by default: failed `unregistered`, nothing submitted', async () => {
    const { outbox, submitted } = await open()
    const r = outbox.enqueue({ key: 'u1', to: '+447700900001', text: 'belum terdaftar', unregistered: true })
    expect(r.state).toBe('failed')
    expect(outbox.get(r.id)).toMatchObject({ reason: 'unregistered' })
    await outbox.dispatchDue()
    expect(submitted).toHaveLength(0)
  })

  it('when on, at most unregisteredRepliesPerHour across all numbers; farmers are not limited', async () => {
    const { outbox, submitted, now } = await open({
      unregisteredReplies: true,
      unregisteredRepliesPerHour: 3,
    })
    const states = Array.from(
      { length: 6 },
      (_, i) =>
        outbox.enqueue({ key: `u${i}`, to: `+4477009000${10 + i}`, text: 'x', unregistered: true }).state,
    )
    expect(states).toEqual(['queued', 'queued', 'queued', 'failed', 'failed', 'failed'])
    expect(outbox.list({ state: 'failed' }).map((r) => r.reason)).toEqual(Array(3).fill('unregistered_rate'))
    const farmer = outbox.enqueue({ key: 'f', to: '+6281200000001', text: 'untuk petani' })
    expect(farmer.state).toBe('queued')
    await outbox.dispatchDue()
    expect(submitted).toHaveLength(4)
    now.ms += 3_600_001 // an hour later the window has room again
    expect(outbox.enqueue({ key: 'u-later', to: '+447700900099', text: 'x', unregistered: true }).state).toBe(
      'queued',
    )
  })
})
