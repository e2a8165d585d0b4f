import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type InboundSms, Outbox, type SmsSender } from '../../src/notify/index.ts'
import { waitFor } from '../harness/app.ts'

/** One implementation under test and the far end it talks to. */
export interface SenderFixture {
  sender: SmsSender
  /** What the far end (the log, Kannel's fake SMSC, the SMPP peer) received, in order. */
  received(): Array<{ to: string; text: string }>
  /** An MO message from a phone, through the far end. */
  injectMo(from: string, to: string, text: string): Promise<void>
  teardown(): Promise<void>
}

/**
 * The contract every SmsSender keeps, checked through the outbox as the alerts use it:
 * accepted, then delivered by report; GSM-7 and UCS-2 text intact; one bad number fails alone;
 * one SMS per key; MO replies (GSM-7 and UCS-2) reach onInbound.
 */
export function senderContract(name: string, setup: () => Promise<SenderFixture>): void {
  describe(`SmsSender contract: ${name}`, () => {
    let fx: SenderFixture
    let outbox: Outbox
    let dir: string
    const inbound: InboundSms[] = []
    let seq = 0
    const key = () => `contract:${name}:${++seq}`
    const far = (to: string) => fx.received().filter((m) => m.to.replace(/^\+/, '') === to.replace(/^\+/, ''))

    beforeAll(async () => {
      fx = await setup()
      dir = mkdtempSync(path.join(os.tmpdir(), 'kampung-notify-'))
      outbox = new Outbox({ path: path.join(dir, 'outbox.sqlite'), sender: fx.sender, pollIntervalMs: 0 })
      outbox.onInbound((mo) => {
        inbound.push(mo)
      })
      await outbox.start()
    })

    afterAll(async () => {
      await outbox?.stop()
      await fx?.teardown()
      if (dir) rmSync(dir, { recursive: true, force: true })
    })

    const delivered = (id: number) =>
      waitFor(`message ${id} delivered`, () => outbox.get(id)?.state === 'delivered')

    it('sends a GSM-7 SMS once, accepted then reported delivered', async () => {
      const to = '+6281200000001'
      const text = 'Sawah 1: kelembapan tanah 18%. Siram sekitar 12 mm hari ini.'
      const { id, state } = outbox.enqueue({ key: key(), to, text })
      expect(state).toBe('queued')
      expect(await outbox.dispatchDue()).toBe(1)
      expect(['accepted', 'delivered']).toContain(outbox.get(id)!.state)
      await delivered(id)
      await waitFor('the far end to receive it', () => far(to).length === 1)
      expect(far(to).map((m) => m.text)).toEqual([text])
      const row = outbox.get(id)!
      expect(row).toMatchObject({ coding: 'gsm7', segments: 1, attempts: 1 })
      expect(row.deliveredMs).toBeGreaterThan(0)
    })

    it('sends UCS-2 text (a name outside GSM-7) intact', async () => {
      const to = '+6281200000002'
      const text = 'Bu Siti: hujan lebat ☔ 水 — tunda pemupukan'
      const { id } = outbox.enqueue({ key: key(), to, text })
      expect(outbox.get(id)!.coding).toBe('ucs2')
      await outbox.dispatchDue()
      await delivered(id)
      await waitFor('the far end to receive it', () => far(to).length === 1)
      expect(far(to)[0]!.text).toBe(text)
    })

    it('fails an invalid number alone while the others go', async () => {
      const good1 = '+6281200000003'
      const good2 = '+6281200000004'
      const a = outbox.enqueue({ key: key(), to: good1, text: 'pesan satu' })
      const bad = outbox.enqueue({ key: key(), to: '0812-BAD', text: 'pesan dua' })
      const b = outbox.enqueue({ key: key(), to: good2, text: 'pesan tiga' })
      expect(bad.state).toBe('failed')
      expect(await outbox.dispatchDue()).toBe(2)
      await delivered(a.id)
      await delivered(b.id)
      expect(outbox.get(bad.id)).toMatchObject({ state: 'failed', reason: 'invalid_number', attempts: 0 })
      await waitFor('both at the far end', () => far(good1).length === 1 && far(good2).length === 1)
      expect(fx.received().some((m) => m.text === 'pesan dua')).toBe(false)
    })

    it('sends one SMS per key, however often it is enqueued', async () => {
      const to = '+6281200000005'
      const k = key()
      const first = outbox.enqueue({ key: k, to, text: 'sekali saja' })
      await outbox.dispatchDue()
      const again = outbox.enqueue({ key: k, to, text: 'sekali saja' })
      expect(again).toMatchObject({ id: first.id, duplicate: true })
      await outbox.dispatchDue()
      await delivered(first.id)
      // A report after the answer, and a pass after that, must not send it again.
      await outbox.dispatchDue()
      await new Promise((r) => setTimeout(r, 500))
      expect(far(to)).toHaveLength(1)
    })

    it('hands MO replies, GSM-7 and UCS-2, to onInbound', async () => {
      await fx.injectMo('+6281300000001', '1234', 'OK 42')
      await waitFor('the GSM-7 reply', () => inbound.some((m) => m.text === 'OK 42'))
      await fx.injectMo('+6281300000002', '1234', 'CEK sawah ☔ 水')
      await waitFor('the UCS-2 reply', () => inbound.some((m) => m.text === 'CEK sawah ☔ 水'))
      const ok = inbound.find((m) => m.text === 'OK 42')!
      expect(ok).toMatchObject({ from: '+6281300000001', via: fx.sender.name })
      expect(ok.receivedAtMs).toBeGreaterThan(0)
      expect(outbox.inbox().map((m) => m.text)).toEqual(expect.arrayContaining(['OK 42', 'CEK sawah ☔ 水']))
    })
  })
}
