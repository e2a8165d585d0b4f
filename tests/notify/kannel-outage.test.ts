import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Outbox, type SmsSender } from '../../src/notify/index.ts'
import { waitFor } from '../harness/app.ts'
import { type KannelRig, startKannelRig } from './kannel-fixture.ts'

/** Outages and crashes against a real Kannel: every SMS reaches the fake SMSC exactly once. */
describe('Kannel outages and crash mid-send', () => {
  let rig: KannelRig
  let dir: string
  const stops: Array<() => Promise<void>> = []

  beforeAll(async () => {
    rig = await startKannelRig()
    dir = mkdtempSync(path.join(os.tmpdir(), 'kampung-kannel-outbox-'))
  })
  afterAll(async () => {
    for (const s of stops.reverse()) await s()
    await rig?.stop()
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  const timesReceived = (text: string) => rig.kannel.received().filter((m) => m.text === text).length

  async function liveOutbox(file: string, opts: { inDoubtHoldMs?: number } = {}) {
    const sender = rig.newSender()
    rig.use(sender)
    const outbox = new Outbox({
      path: path.join(dir, file),
      sender,
      pollIntervalMs: 100,
      retryBaseMs: 200,
      retryMaxMs: 1000,
      maxAttempts: 1000,
      ...opts,
    })
    await outbox.start()
    stops.push(() => outbox.stop())
    return outbox
  }

  it('Kannel stopped while messages are enqueued, then restarted: each SMS once, DLRs mark them delivered', async () => {
    const outbox = await liveOutbox('outage.sqlite')
    await rig.kannel.stopBoxes()
    const texts = Array.from({ length: 5 }, (_, i) => `Kannel mati ${i}: sawah ${i} kering`)
    const ids = texts.map(
      (text, i) => outbox.enqueue({ key: `outage:${i}`, to: `+62812100000${i}0`, text }).id,
    )
    // Failed twice and back in the queue: the count rises as an attempt starts, so a message can be
    // seen at 2 while its second attempt is still 'sending' (a full run on a loaded machine did).
    await waitFor('every message to have failed at least twice', () =>
      ids.every((id) => {
        const m = outbox.get(id)
        return (m?.attempts ?? 0) >= 2 && m?.state === 'queued'
      }),
    )
    for (const id of ids) expect(outbox.get(id)).toMatchObject({ state: 'queued', reason: 'gateway_down' })
    await rig.kannel.startBoxes()
    await rig.kannel.startSmsc()
    await waitFor('all delivered', () => ids.every((id) => outbox.get(id)?.state === 'delivered'), 60_000)
    await new Promise((r) => setTimeout(r, 2000)) // time for a duplicate to show up, if there were one
    for (const text of texts) expect(timesReceived(text)).toBe(1)
    for (const id of ids) expect(outbox.get(id)!.gatewayId).toBeTruthy() // the SMSC's id, from the DLR
  }, 180_000) // Kannel's restart and resend cycle is slow when the machine is loaded

  it('SMSC down, Kannel up: accepted (queued in Kannel), delivered once when the SMSC is back', async () => {
    const outbox = await liveOutbox('smsc-down.sqlite')
    await rig.kannel.stopSmsc()
    const texts = ['SMSC mati 1', 'SMSC mati 2', 'SMSC mati 3']
    const ids = texts.map((text, i) => outbox.enqueue({ key: `smsc:${i}`, to: `+62812200000${i}`, text }).id)
    await waitFor('accepted by Kannel', () => ids.every((id) => outbox.get(id)?.state === 'accepted'))
    for (const text of texts) expect(timesReceived(text)).toBe(0)
    await rig.kannel.startSmsc()
    await waitFor('delivered', () => ids.every((id) => outbox.get(id)?.state === 'delivered'), 60_000)
    await new Promise((r) => setTimeout(r, 1500))
    for (const text of texts) expect(timesReceived(text)).toBe(1)
    for (const id of ids) expect(outbox.get(id)!.attempts).toBe(1)
  })

  /**
   * A "crash": the first outbox marks the message `sending` and hands it to a sender that never
   * answers; a second outbox (the restarted process) opens the same file.
   */
  function crashingSender(forward: SmsSender | undefined, gate: Promise<void>): SmsSender {
    return {
      name: 'crashing',
      async start() {},
      async stop() {},
      async submit(msg) {
        await gate
        if (forward) await forward.submit(msg) // the request reaches Kannel...
        return new Promise(() => {}) // ...but the process died before it heard the answer
      },
      onDeliveryReport() {},
      onInbound() {},
    }
  }

  it('crash after the request reached Kannel: the DLR settles it, never resubmitted', async () => {
    let release!: () => void
    const gate = new Promise<void>((r) => {
      release = r
    })
    const crashed = new Outbox({
      path: path.join(dir, 'crash-sent.sqlite'),
      sender: crashingSender(rig.newSender(), gate),
      pollIntervalMs: 0,
    })
    await crashed.start()
    const text = 'Crash setelah kirim'
    const { id } = crashed.enqueue({ key: 'crash:1', to: '+6281230000001', text })
    void crashed.dispatchDue()
    await waitFor('marked sending', () => crashed.get(id)?.state === 'sending')

    const restarted = await liveOutbox('crash-sent.sqlite', { inDoubtHoldMs: 3000 })
    expect(restarted.get(id)).toMatchObject({ state: 'sending', reason: 'in_doubt' })
    release() // the request the dead process had in flight arrives at Kannel
    await waitFor('delivered by its DLR', () => restarted.get(id)?.state === 'delivered', 30_000)
    await new Promise((r) => setTimeout(r, 3500)) // past the hold: still not resent
    await restarted.dispatchDue()
    expect(restarted.get(id)).toMatchObject({ state: 'delivered', attempts: 1 })
    expect(timesReceived(text)).toBe(1)
  })

  it('crash before the request reached Kannel: held, then failed in_doubt, never sent twice', async () => {
    const crashed = new Outbox({
      path: path.join(dir, 'crash-unsent.sqlite'),
      sender: crashingSender(undefined, Promise.resolve()),
      pollIntervalMs: 0,
    })
    await crashed.start()
    const text = 'Crash sebelum kirim'
    const { id } = crashed.enqueue({ key: 'crash:2', to: '+6281230000002', text })
    void crashed.dispatchDue()
    await waitFor('marked sending', () => crashed.get(id)?.state === 'sending')

    const restarted = await liveOutbox('crash-unsent.sqlite', { inDoubtHoldMs: 1500 })
    await waitFor('failed in_doubt after the hold', () => restarted.get(id)?.state === 'failed', 20_000)
    expect(restarted.get(id)).toMatchObject({ reason: 'in_doubt', attempts: 1 })
    await new Promise((r) => setTimeout(r, 1000))
    expect(timesReceived(text)).toBe(0) // at most once: the guarantee, documented in outbox.ts
  })
})
