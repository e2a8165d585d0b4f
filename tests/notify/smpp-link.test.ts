import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { Outbox, SmppSender } from '../../src/notify/index.ts'
import { waitFor } from '../harness/app.ts'
import { freePort } from '../harness/ports.ts'
import { type SmppPeer, startSmppPeer } from '../harness/smpp-peer.ts'

describe('SMPP link: reconnect, refusals, in-doubt submissions', () => {
  const cleanup: Array<() => Promise<void> | void> = []
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c()
  })

  async function rig(peerOpts: { rejectNumbers?: string[]; port?: number } = {}, outboxOpts = {}) {
    const peer = await startSmppPeer({ systemId: 'kampung', password: 'pw', ...peerOpts })
    cleanup.push(() => peer.stop())
    const sender = new SmppSender({
      host: '127.0.0.1',
      port: peer.port,
      systemId: 'kampung',
      password: 'pw',
      sourceAddr: '6281100000000',
      reconnectMs: 200,
      submitTimeoutMs: 1000,
    })
    const dir = mkdtempSync(path.join(os.tmpdir(), 'kampung-smpp-'))
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }))
    const outbox = new Outbox({
      path: path.join(dir, 'outbox.sqlite'),
      sender,
      pollIntervalMs: 100,
      retryBaseMs: 100,
      retryMaxMs: 500,
      ...outboxOpts,
    })
    await outbox.start()
    cleanup.push(() => outbox.stop())
    return { peer, sender, outbox }
  }

  it('sends data_coding 0 for GSM-7 and 8 (UCS-2) otherwise; long text whole in message_payload', async () => {
    const { peer, outbox } = await rig()
    const long = 'Perkiraan hujan lebat 3 hari ke depan. '.repeat(6) // > 160: two or more segments
    outbox.enqueue({ key: 'g', to: '+6281200000001', text: 'OK' })
    outbox.enqueue({ key: 'u', to: '+6281200000002', text: 'Bu Siti ☔' })
    outbox.enqueue({ key: 'l', to: '+6281200000003', text: long })
    await waitFor('three delivered', () => outbox.list({ state: 'delivered' }).length === 3)
    const byTo = new Map(peer.submits.map((s) => [s.to, s]))
    expect(byTo.get('6281200000001')).toMatchObject({ text: 'OK', dataCoding: 0, from: '6281100000000' })
    expect(byTo.get('6281200000002')).toMatchObject({ text: 'Bu Siti ☔', dataCoding: 8 })
    expect(byTo.get('6281200000003')!.text).toBe(long)
    expect(outbox.getByKey('l')!.segments).toBeGreaterThan(1)
  })

  it('a number the SMSC refuses fails alone (rejected), the others are delivered', async () => {
    const { peer, outbox } = await rig({ rejectNumbers: ['+6281299999999'] })
    const bad = outbox.enqueue({ key: 'bad', to: '+6281299999999', text: 'tidak ada' })
    const good = Array.from({ length: 4 }, (_, i) =>
      outbox.enqueue({ key: `ok${i}`, to: `+628120000001${i}`, text: `ok ${i}` }),
    )
    await waitFor('others delivered', () => good.every((g) => outbox.get(g.id)?.state === 'delivered'))
    expect(outbox.get(bad.id)).toMatchObject({ state: 'failed', reason: 'rejected', attempts: 1 })
    expect(outbox.get(bad.id)!.detail).toContain('0x000b')
    expect(peer.submits).toHaveLength(4)
  })

  it('reconnects after the link drops and after the SMSC restarts; queued messages then go once', async () => {
    const port = await freePort()
    const first = await rig({ port })
    const { sender, outbox } = first
    await waitFor('bound', () => sender.isBound)
    first.peer.dropAll()
    await waitFor('unbound', () => !sender.isBound)
    await waitFor('bound again', () => sender.isBound, 10_000)
    // Now the SMSC goes away entirely; messages wait, then go when it is back on the same port.
    await first.peer.stop()
    await waitFor('unbound', () => !sender.isBound)
    const ids = [1, 2, 3].map(
      (i) => outbox.enqueue({ key: `r${i}`, to: `+62812000002${i}`, text: `setelah putus ${i}` }).id,
    )
    await waitFor('retried while down', () => ids.every((id) => (outbox.get(id)?.attempts ?? 0) >= 1))
    expect(outbox.get(ids[0]!)).toMatchObject({ state: 'queued', reason: 'gateway_down' })
    const second: SmppPeer = await startSmppPeer({ systemId: 'kampung', password: 'pw', port })
    cleanup.push(() => second.stop())
    await waitFor(
      'delivered after the SMSC came back',
      () => ids.every((id) => outbox.get(id)?.state === 'delivered'),
      30_000,
    )
    await new Promise((r) => setTimeout(r, 500))
    expect(second.submits.map((s) => s.text).sort()).toEqual([
      'setelah putus 1',
      'setelah putus 2',
      'setelah putus 3',
    ])
  })

  it('no submit_sm_resp: the message is held in doubt and not resubmitted', async () => {
    const { peer, outbox } = await rig({}, { inDoubtHoldMs: 1500 })
    peer.silent = true
    const { id } = outbox.enqueue({ key: 'silent', to: '+6281200000031', text: 'tanpa jawaban' })
    await waitFor('in doubt', () => outbox.get(id)?.reason === 'in_doubt')
    expect(outbox.get(id)!.state).toBe('sending')
    peer.silent = false
    await waitFor('failed in_doubt after the hold', () => outbox.get(id)?.state === 'failed', 10_000)
    expect(outbox.get(id)).toMatchObject({ reason: 'in_doubt', attempts: 1 })
  })
})
