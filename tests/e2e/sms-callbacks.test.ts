import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ConfigError, parseConfig } from '../../src/config.ts'
import { kannelMoService } from '../../src/notify/index.ts'
import { startApp, type TestApp, waitFor } from '../harness/app.ts'
import { type KannelHandle, kannelNotify, startKannel } from '../harness/kannel.ts'
import { freePort } from '../harness/ports.ts'

/**
 * Issue 18 scope 1, against the running app and a real Kannel (bearerbox + smsbox + fakesmsc):
 * forged farmer replies (MO) and delivery reports (DLR) change nothing and send nothing; the real
 * Kannel, configured with the token as HTTP Basic (kannelMoService), still delivers both.
 */
const TOKEN = 'sms-callback-token-7d1e4b9a'
const VILLAGE = 'kemiren'
const PHONE_BUDI = '+6281200000001'
const STRANGER = '+447700900123'
const SHORT_CODE = '1234'

describe('SMS callbacks: forged MO and DLR refused, the real Kannel still heard', () => {
  let kannel: KannelHandle
  let t: TestApp
  let base = ''
  const quiet = (ms: number) => new Promise((r) => setTimeout(r, ms))
  const digits = (phone: string) => phone.replace(/\D/g, '')
  const smsTo = (phone: string) => kannel.received().filter((m) => digits(m.to) === digits(phone))
  const outbox = () => t.app.notify!.outbox
  const budi = () => t.app.alerts!.directory.getFarmer('pak-budi')!
  const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`

  /** Every way a forger without the token might try, and the token where it is not accepted. */
  const forgeries: Array<{ how: string; headers: Record<string, string>; query?: string }> = [
    { how: 'no credentials', headers: {} },
    {
      how: 'wrong Basic password',
      headers: { authorization: basic('kannel', 'sms-callback-token-7d1e4b9b') },
    },
    { how: 'right token as the Basic user name', headers: { authorization: basic(TOKEN, 'x') } },
    { how: 'wrong Bearer', headers: { authorization: 'Bearer guess-guess-guess-guess' } },
    { how: 'wrong X-Kampung-Token', headers: { 'x-kampung-token': TOKEN.slice(0, -1) } },
    { how: 'right token in the query', headers: {}, query: `&token=${TOKEN}` },
  ]

  beforeAll(async () => {
    const apiPort = await freePort()
    base = `http://127.0.0.1:${apiPort}/api/v1`
    kannel = await startKannel({
      moUrl: `${base}/sms/kannel/mo`,
      smsService: kannelMoService({ callbackBaseUrl: base, callbackToken: TOKEN }),
    })
    t = await startApp({
      api: { port: apiPort },
      notify: {
        sender: 'kannel',
        kannel: kannelNotify(kannel, base, TOKEN),
        outbox: { pollIntervalMs: 100, retryBaseMs: 200, retryMaxMs: 1000 },
      },
      alerts: { tickIntervalMs: 200, quietHours: { start: '00:00', end: '00:00' } },
    })
    t.app.registry.addVillage({ id: VILLAGE, name: 'Kemiren' })
    t.app.alerts!.directory.addFarmer({
      id: 'pak-budi',
      name: 'Pak Budi',
      phone: PHONE_BUDI,
      village: VILLAGE,
    })
  }, 90_000)

  afterAll(async () => {
    await t?.stop()
    await kannel?.stop()
  }, 60_000)

  it('refuses a Kannel config without callbackToken or callbackAllowFrom, saying why', () => {
    const kannelConfig = { sendsmsUrl: 'http://127.0.0.1:13013/cgi-bin/sendsms', password: 'p' }
    let error: unknown
    try {
      parseConfig({ notify: { sender: 'kannel', kannel: kannelConfig } })
    } catch (err) {
      error = err
    }
    expect(error).toBeInstanceOf(ConfigError)
    expect((error as ConfigError).problems).toEqual([
      expect.stringMatching(
        /^notify\.kannel\.callbackToken: sender kannel needs callbackToken .* and\/or callbackAllowFrom/,
      ),
    ])
    expect(() =>
      parseConfig({ notify: { sender: 'kannel', kannel: { ...kannelConfig, callbackToken: 'short' } } }),
    ).toThrow(/at least 16 characters/)
    expect(() =>
      parseConfig({
        notify: { sender: 'kannel', kannel: { ...kannelConfig, callbackAllowFrom: ['10.0.0.0/33'] } },
      }),
    ).toThrow(/IP address or CIDR/)
    expect(
      parseConfig({
        notify: { sender: 'kannel', kannel: { ...kannelConfig, callbackAllowFrom: ['10.0.0.5'] } },
      }).notify.kannel.callbackAllowFrom,
    ).toEqual(['10.0.0.5'])
  })

  it('forged MO (STOP from a farmer, a text from a stranger) without the token: 401, nothing stored or sent', async () => {
    for (const f of forgeries) {
      for (const [from, text] of [
        [PHONE_BUDI, 'STOP'],
        [STRANGER, 'HALO'],
      ] as const) {
        const url = `${base}/sms/kannel/mo?from=${encodeURIComponent(from)}&to=${SHORT_CODE}&text=${text}${f.query ?? ''}`
        const res = await fetch(url, { headers: f.headers })
        expect(res.status, f.how).toBe(401)
        expect(((await res.json()) as { error: string }).error).toBe('forbidden')
      }
    }
    await quiet(1500) // time for a reply to reach the fake SMSC, if one were sent
    expect(budi().stopped).toBe(false)
    expect(outbox().inbox()).toEqual([])
    expect(outbox().list()).toEqual([])
    expect(kannel.received()).toEqual([])
    const metrics = await (await fetch(`${t.apiUrl}/metrics`)).text()
    expect(metrics).toContain(`kampung_sms_callbacks_refused_total{reason="token"} ${forgeries.length * 2}`)
  })

  it('forged DLRs for a queued and for a sent message change nothing; the real DLR still delivers', async () => {
    // Queued: due in an hour. Sent: accepted by Kannel while its SMSC is down.
    const queued = outbox().enqueue({
      key: 'later',
      to: '+6281200000002',
      text: 'nanti',
      notBeforeMs: Date.now() + 3_600_000,
    })
    await kannel.stopSmsc()
    const sent = outbox().enqueue({ key: 'now', to: '+6281200000003', text: 'Sawah 3 kering' })
    await waitFor('accepted by Kannel', () => outbox().get(sent.id)?.state === 'accepted')
    for (const f of forgeries) {
      for (const id of [queued.id, sent.id]) {
        for (const s of [1, 2]) {
          const res = await fetch(`${base}/sms/kannel/dlr?id=${id}&s=${s}${f.query ?? ''}`, {
            headers: f.headers,
          })
          expect(res.status, f.how).toBe(401)
        }
      }
    }
    // Even with the token (leaked, or a confused gateway): outbox ids and guessed refs name nothing.
    const withToken = { authorization: basic('kannel', TOKEN) }
    for (const id of [queued.id, sent.id]) {
      expect((await fetch(`${base}/sms/kannel/dlr?id=${id}&s=1`, { headers: withToken })).status).toBe(400)
    }
    const guess = await fetch(`${base}/sms/kannel/dlr?ref=AAAAAAAAAAAAAAAAAAAAAA&s=1`, { headers: withToken })
    expect(guess.status).toBe(200)
    expect(outbox().get(queued.id)).toMatchObject({ state: 'queued', attempts: 0 })
    expect(outbox().get(sent.id)).toMatchObject({ state: 'accepted', attempts: 1 })

    await kannel.startSmsc()
    await waitFor('delivered by the real DLR', () => outbox().get(sent.id)?.state === 'delivered', 60_000)
    expect(outbox().get(sent.id)!.gatewayId).toBeTruthy()
    expect(outbox().get(queued.id)).toMatchObject({ state: 'queued', attempts: 0 })
    expect(smsTo('+6281200000002')).toEqual([])
  }, 90_000)

  it("the real Kannel's MO (token as HTTP Basic) reaches the farmer's command; the reply is delivered", async () => {
    await kannel.injectMo(PHONE_BUDI, SHORT_CODE, 'STOP')
    await waitFor('Pak Budi stopped', () => budi().stopped)
    await waitFor('the confirmation at the fake SMSC', () => smsTo(PHONE_BUDI).length === 1, 30_000)
    expect(smsTo(PHONE_BUDI)[0]!.text).toMatch(/^Anda berhenti berlangganan/)
    await waitFor(
      'the confirmation delivered (DLR)',
      () => outbox().list({ to: PHONE_BUDI })[0]?.state === 'delivered',
      30_000,
    )
    await kannel.injectMo(PHONE_BUDI, SHORT_CODE, 'MULAI')
    await waitFor('Pak Budi subscribed again', () => !budi().stopped)
  }, 60_000)

  it('a text from an unregistered number is stored, and by default not answered (no SMS pumping)', async () => {
    await kannel.injectMo(STRANGER, SHORT_CODE, 'HALO')
    await waitFor('the MO in the inbox', () =>
      outbox()
        .inbox()
        .some((m) => m.from === STRANGER),
    )
    await waitFor('the reply refused', () => outbox().list({ to: STRANGER }).length === 1)
    expect(outbox().list({ to: STRANGER })[0]).toMatchObject({
      state: 'failed',
      reason: 'unregistered',
      attempts: 0,
    })
    await quiet(1500)
    expect(smsTo(STRANGER)).toEqual([])
  })
})

describe('SMS callbacks: source-address allowlist', () => {
  async function appWith(allowFrom: string[]): Promise<TestApp> {
    return startApp({
      notify: {
        sender: 'kannel',
        kannel: { password: 'unused', callbackAllowFrom: allowFrom },
        outbox: { pollIntervalMs: 0 },
      },
    })
  }

  it('a callback from outside the allowlist is refused (403), one from inside is taken without a token', async () => {
    const outside = await appWith(['192.0.2.10', '2001:db8::/32'])
    const inside = await appWith(['127.0.0.0/8'])
    try {
      const mo = `/api/v1/sms/kannel/mo?from=%2B6281200000001&to=${SHORT_CODE}&text=STOP`
      const refused = await fetch(`${outside.apiUrl}${mo}`)
      expect(refused.status).toBe(403)
      expect(outside.app.notify!.outbox.inbox()).toEqual([])
      const taken = await fetch(`${inside.apiUrl}${mo}`)
      expect(taken.status).toBe(200)
      expect(inside.app.notify!.outbox.inbox().map((m) => m.text)).toEqual(['STOP'])
    } finally {
      await outside.stop()
      await inside.stop()
    }
  })
})
