import http from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseConfig } from '../../src/config.ts'
import { UserStore } from '../../src/console/index.ts'
import { startApp, type TestApp } from '../harness/app.ts'

/**
 * Login throttling through the running app's HTTP login (issue 18 scope 4, issue 16 item 8):
 * attempts are counted before the scrypt check, so concurrent guesses cannot outrun the limits
 * (5 per account, 20 per address by default); behind a TLS proxy with `api.trustProxy` set, the
 * per-address limit counts the client the proxy names, not the proxy.
 */

interface Answer {
  status: number
  error?: string
  setCookie?: string
}

/** POST /api/v1/session from a chosen local address (any 127.x.y.z is this machine's loopback). */
function login(
  apiUrl: string,
  body: { user: string; password: string },
  opts: { from?: string; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const url = new URL('/api/v1/session', apiUrl)
  const data = JSON.stringify(body)
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        localAddress: opts.from,
        agent: false,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(data),
          ...opts.headers,
        },
      },
      (res) => {
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (c: string) => {
          text += c
        })
        res.on('end', () => {
          const parsed = text ? (JSON.parse(text) as { error?: string }) : {}
          const cookie = res.headers['set-cookie']?.[0]
          resolve({ status: res.statusCode ?? 0, error: parsed.error, setCookie: cookie })
        })
      },
    )
    req.on('error', reject)
    req.end(data)
  })
}

const tally = (answers: Answer[]) => {
  const out: Record<string, number> = {}
  for (const a of answers) {
    const key = `${a.status} ${a.error ?? 'ok'}`
    out[key] = (out[key] ?? 0) + 1
  }
  return out
}

const PASSWORD = 'right-password-1'

describe('console login throttling (HTTP, concurrent)', () => {
  let t: TestApp

  beforeAll(async () => {
    t = await startApp({ oksigen: { enabled: false }, alerts: { enabled: false } })
    const users = new UserStore(t.app.registry)
    for (const id of ['budi', 'citra', 'dewi']) await users.add({ id, role: 'officer', password: PASSWORD })
  }, 30_000)
  afterAll(() => t?.stop())

  it('60 concurrent wrong passwords on one account: 5 are checked, the account locks, the address stops at 20', async () => {
    const answers = await Promise.all(
      Array.from({ length: 60 }, () =>
        login(t.apiUrl, { user: 'budi', password: 'wrong-password' }, { from: '127.0.0.2' }),
      ),
    )
    // 5 reach scrypt (401); 15 more are counted by the address but refused as locked without a
    // check; the remaining 40 exceed the address's 20 and are refused before anything else.
    expect(tally(answers)).toEqual({ '401 bad_credentials': 5, '429 locked': 15, '429 rate_limited': 40 })
    const budi = new UserStore(t.app.registry).get('budi')!
    expect(budi.lockedUntilMs).toBeGreaterThan(Date.now() + 14 * 60_000)
    // the right password is refused now, from any address
    expect(await login(t.apiUrl, { user: 'budi', password: PASSWORD }, { from: '127.0.0.3' })).toMatchObject({
      status: 429,
      error: 'locked',
    })
    // the address is refused for every account; another address is not
    expect(await login(t.apiUrl, { user: 'citra', password: PASSWORD }, { from: '127.0.0.2' })).toMatchObject(
      {
        status: 429,
        error: 'rate_limited',
      },
    )
    expect(await login(t.apiUrl, { user: 'citra', password: PASSWORD }, { from: '127.0.0.3' })).toMatchObject(
      {
        status: 200,
      },
    )
  }, 60_000)

  it('60 concurrent guesses over 60 accounts from one address: 20 are checked, 40 refused', async () => {
    const answers = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        login(
          t.apiUrl,
          { user: i === 0 ? 'dewi' : `guess-${i}`, password: 'wrong-password' },
          { from: '127.0.0.4' },
        ),
      ),
    )
    expect(tally(answers)).toEqual({ '401 bad_credentials': 20, '429 rate_limited': 40 })
    // dewi had one wrong password: not locked, and she logs in from her own address
    expect(new UserStore(t.app.registry).get('dewi')!.lockedUntilMs).toBe(0)
    expect(await login(t.apiUrl, { user: 'dewi', password: PASSWORD }, { from: '127.0.0.5' })).toMatchObject({
      status: 200,
    })
  }, 60_000)

  it('without trust proxy, X-Forwarded-For is ignored: the peer address is what counts', async () => {
    const answers = await Promise.all(
      Array.from({ length: 25 }, (_, i) =>
        login(
          t.apiUrl,
          { user: `nobody-${i}`, password: 'wrong-password' },
          { from: '127.0.0.6', headers: { 'x-forwarded-for': `203.0.113.${i}` } },
        ),
      ),
    )
    expect(tally(answers)).toEqual({ '401 bad_credentials': 20, '429 rate_limited': 5 })
  }, 60_000)
})

describe('behind a TLS proxy (api.trustProxy, https public URL)', () => {
  let t: TestApp

  beforeAll(async () => {
    t = await startApp({
      api: { trustProxy: ['127.0.0.7'] },
      oksigen: { enabled: true, publicBaseUrl: 'https://oksigen.example.id' },
      alerts: { enabled: false },
    })
    await new UserStore(t.app.registry).add({ id: 'eka', role: 'officer', password: PASSWORD })
  }, 30_000)
  afterAll(() => t?.stop())

  it("one client's wrong passwords through the proxy do not lock out another client of the same proxy", async () => {
    const proxy = { from: '127.0.0.7' }
    const attacker = { ...proxy, headers: { 'x-forwarded-for': '198.51.100.9' } }
    const answers = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        login(t.apiUrl, { user: `guess-${i}`, password: 'wrong-password' }, attacker),
      ),
    )
    expect(tally(answers)).toEqual({ '401 bad_credentials': 20, '429 rate_limited': 10 })
    expect(await login(t.apiUrl, { user: 'eka', password: PASSWORD }, attacker)).toMatchObject({
      status: 429,
      error: 'rate_limited',
    })
    const officer = await login(
      t.apiUrl,
      { user: 'eka', password: PASSWORD },
      { ...proxy, headers: { 'x-forwarded-for': '192.0.2.44' } },
    )
    expect(officer.status).toBe(200)
    // the public URL is https: the session cookie is Secure although the proxy talks plain http
    expect(officer.setCookie).toMatch(/^kampung_session=[^;]+;.*; Secure$/)
  }, 60_000)

  it('an untrusted peer cannot pick its address with X-Forwarded-For', async () => {
    const answers = await Promise.all(
      Array.from({ length: 22 }, (_, i) =>
        login(
          t.apiUrl,
          { user: `guess-${i}`, password: 'wrong-password' },
          { from: '127.0.0.8', headers: { 'x-forwarded-for': `203.0.113.${i}` } },
        ),
      ),
    )
    expect(tally(answers)).toEqual({ '401 bad_credentials': 20, '429 rate_limited': 2 })
  }, 60_000)
})

describe('console and api config', () => {
  it('secureCookie follows the public URL unless set; trustProxy entries are checked', () => {
    expect(parseConfig({}).console.secureCookie).toBeUndefined()
    expect(parseConfig({}).api.trustProxy).toBe(false)
    expect(parseConfig({ api: { trustProxy: ['loopback', '10.0.0.0/8', '::1'] } }).api.trustProxy).toEqual([
      'loopback',
      '10.0.0.0/8',
      '::1',
    ])
    expect(() => parseConfig({ api: { trustProxy: ['proxy.local', '10.0.0.0/33'] } })).toThrow(
      /api\.trustProxy\.0.*\n.*api\.trustProxy\.1/,
    )
  })

  it('the session cookie is not Secure for an http public URL, and Secure when set explicitly', async () => {
    for (const [overrides, secure] of [
      [{ oksigen: { publicBaseUrl: 'http://localhost:8080' } }, false],
      [{ oksigen: { publicBaseUrl: 'http://localhost:8080' }, console: { secureCookie: true } }, true],
    ] as const) {
      const t = await startApp({ ...overrides, alerts: { enabled: false } })
      try {
        await new UserStore(t.app.registry).add({ id: 'fajar', role: 'officer', password: PASSWORD })
        const ok = await login(t.apiUrl, { user: 'fajar', password: PASSWORD })
        expect(ok.status).toBe(200)
        expect(/; Secure\b/.test(ok.setCookie ?? ''), JSON.stringify(overrides)).toBe(secure)
      } finally {
        await t.stop()
      }
    }
  }, 60_000)
})
