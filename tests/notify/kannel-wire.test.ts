import http from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { KannelSender, kannelMoService } from '../../src/notify/index.ts'
import { waitFor } from '../harness/app.ts'
import { type KannelHandle, startKannel } from '../harness/kannel.ts'
import { freePort } from '../harness/ports.ts'

/**
 * What a real Kannel (1.4.5) puts on the wire for the callback URLs we give it: the userinfo of
 * the get-url (kannelMoService) and of our dlr-url arrives as HTTP Basic, the token nowhere in
 * the request line. If a Kannel upgrade changed that, the callbacks' authentication would break.
 */
describe('Kannel callback credentials on the wire', () => {
  const TOKEN = 'wire-token-0f1e2d3c4b5a'
  let kannel: KannelHandle
  let server: http.Server
  const seen: Array<{ url: string; authorization?: string }> = []

  beforeAll(async () => {
    const port = await freePort()
    server = http.createServer((req, res) => {
      seen.push({ url: req.url ?? '', authorization: req.headers.authorization })
      res.end('')
    })
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', r))
    const callbackBaseUrl = `http://127.0.0.1:${port}/api/v1`
    kannel = await startKannel({
      moUrl: `${callbackBaseUrl}/sms/kannel/mo`,
      smsService: kannelMoService({ callbackBaseUrl, callbackToken: TOKEN }),
    })
    const sender = new KannelSender({
      sendsmsUrl: kannel.sendsmsUrl,
      username: kannel.username,
      password: kannel.password,
      from: 'KAMPUNG',
      callbackBaseUrl,
      callbackToken: TOKEN,
    })
    await kannel.injectMo('+6281300000001', '1234', 'OK 7')
    await sender.submit({ id: 1, ref: 'r'.repeat(22), to: '+6281200000001', text: 'halo', coding: 'gsm7' })
  }, 60_000)

  afterAll(async () => {
    await kannel?.stop()
    server?.close()
  })

  it('MO get-url and dlr-url both arrive with Authorization: Basic kannel:<token>', async () => {
    await waitFor(
      'an MO and a final DLR',
      () =>
        seen.some((r) => r.url.startsWith('/api/v1/sms/kannel/mo')) &&
        seen.some((r) => r.url.includes('/sms/kannel/dlr') && r.url.includes('&s=1&')),
    )
    const basic = `Basic ${Buffer.from(`kannel:${TOKEN}`).toString('base64')}`
    for (const r of seen) {
      expect(r.authorization, r.url).toBe(basic)
      expect(r.url).not.toContain(TOKEN)
    }
    expect(seen.find((r) => r.url.includes('/dlr'))!.url).toMatch(
      /^\/api\/v1\/sms\/kannel\/dlr\?ref=r{22}&s=\d+&/,
    )
  })
})
