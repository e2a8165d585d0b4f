import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MIN_OVERRIDE_REASON_LENGTH } from '../../src/oksigen/verifier.ts'
import { type ConsoleWorld, consoleWorld, PASSWORDS } from '../console/fixtures.ts'
import { waitFor } from '../harness/app.ts'

/**
 * A certificate only with evidence (issue 18 scope 7), through the running service's HTTP API and
 * its public verify page: a tree whose dendrometer never sent a reading cannot be released by a
 * `service` credential (the kind ingest workers hold) nor by a plain officer decision; an officer
 * override with a written reason releases it, and the public page says so with the reason. A tree
 * with the policy's evidence is released by a plain decision, and its page shows no override.
 */
describe('Sedekah Oksigen: a certificate only with evidence', () => {
  let w: ConsoleWorld
  let serviceAuth: string
  let officer: { cookie: string; csrfToken: string }

  const post = (path: string, body: unknown, headers: Record<string, string>) =>
    fetch(`${w.t.apiUrl}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    })
  const asOfficer = () => ({ cookie: officer.cookie, 'x-csrf-token': officer.csrfToken })
  const certificatesOf = (tree: string) => w.t.app.oksigen!.repo.certificatesOf(tree)
  const stateOf = (tree: string) => w.t.app.oksigen!.repo.getState(tree)?.state

  beforeAll(async () => {
    w = await consoleWorld()
    w.t.app.registry.addVillage({ id: 'dinas', name: 'Dinas' })
    const secret = await w.t.addDevice({ id: 'ingest-worker', village: 'dinas', kind: 'service' })
    serviceAuth = `Basic ${Buffer.from(`ingest-worker:${secret}`).toString('base64')}`
    const res = await post('/api/v1/session', { user: 'budi', password: PASSWORDS.officer }, {})
    expect(res.status).toBe(200)
    const cookie = res.headers.get('set-cookie')!.split(';')[0]!
    officer = { cookie, csrfToken: ((await res.json()) as { csrfToken: string }).csrfToken }
  }, 90_000)
  afterAll(() => w?.t.stop())

  it('the tree without readings has no evidence: awaiting_data, no certificate', () => {
    expect(w.t.app.oksigen!.verifier.evidence(w.awaitingTree)?.growth?.daysObserved ?? 0).toBe(0)
    expect(stateOf(w.awaitingTree)).toBe('awaiting_data')
    expect(certificatesOf(w.awaitingTree)).toEqual([])
  })

  it('a service credential cannot decide anything (403), even with an override and a long reason', async () => {
    for (const body of [
      { decision: 'verify', reason: 'service says so' },
      { decision: 'verify', reason: 'an ingest worker overriding the policy', override: true },
      { decision: 'reject', reason: 'service says so' },
      { decision: 'reopen', reason: 'service says so' },
    ]) {
      const res = await post(`/api/v1/trees/${w.awaitingTree}/decisions`, body, {
        authorization: serviceAuth,
      })
      expect(res.status, JSON.stringify(body)).toBe(403)
      expect(await res.json()).toMatchObject({ error: 'forbidden' })
    }
    // the service credential still reads (the CLI lists and shows trees with it)
    const read = await fetch(`${w.t.apiUrl}/api/v1/trees/${w.awaitingTree}`, {
      headers: { authorization: serviceAuth },
    })
    expect(read.status).toBe(200)
    expect(stateOf(w.awaitingTree)).toBe('awaiting_data')
    expect(certificatesOf(w.awaitingTree)).toEqual([])
  })

  it('a plain officer decision cannot verify a tree without evidence (409 evidence_missing)', async () => {
    const res = await post(
      `/api/v1/trees/${w.awaitingTree}/decisions`,
      { decision: 'verify', reason: 'I visited the tree, it looks fine' },
      asOfficer(),
    )
    expect(res.status).toBe(409)
    const body = (await res.json()) as { error: string; message: string }
    expect(body.error).toBe('evidence_missing')
    expect(body.message).toMatch(/awaiting_data: 0 of 7 days/)
    // an override needs a written reason, not a word
    const terse = await post(
      `/api/v1/trees/${w.awaitingTree}/decisions`,
      { decision: 'verify', reason: 'ok fine', override: true },
      asOfficer(),
    )
    expect(terse.status).toBe(400)
    expect(await terse.json()).toMatchObject({ error: 'override_reason_too_short' })
    expect(stateOf(w.awaitingTree)).toBe('awaiting_data')
    expect(certificatesOf(w.awaitingTree)).toEqual([])
    expect(w.t.app.oksigen!.repo.decisions(w.awaitingTree).filter((d) => d.by === 'budi')).toEqual([])
  })

  it('an officer override with a written reason releases it, and the public page states the override and the reason', async () => {
    const reason = 'Sensor broken since planting; site visit 2026-12-01 measured 18 mm, photos in file 503/7'
    expect(reason.length).toBeGreaterThanOrEqual(MIN_OVERRIDE_REASON_LENGTH)
    const res = await post(
      `/api/v1/trees/${w.awaitingTree}/decisions`,
      { decision: 'verify', reason, override: true },
      asOfficer(),
    )
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ state: 'verified' })
    expect(w.t.app.oksigen!.repo.decisions(w.awaitingTree).at(-1)).toMatchObject({
      by: 'budi',
      reason,
      toState: 'verified',
      data: { override: true },
    })
    await waitFor('the certificate to be stored', async () => {
      const id = certificatesOf(w.awaitingTree)[0]
      return id !== undefined && (await w.t.app.oksigen!.certificates.get(id)) !== undefined
    })
    const id = certificatesOf(w.awaitingTree)[0]!
    const page = await fetch(`${w.t.apiUrl}/verify/${id}`)
    expect(page.status).toBe(200)
    expect(page.headers.get('x-oksigen-verification')).toBe('valid')
    const html = await page.text()
    expect(html).toContain('id="override"')
    expect(html).toContain(
      'Released by an officer&#39;s override, WITHOUT the growth evidence the policy requires.',
    )
    expect(html).toContain('TANPA bukti pertumbuhan yang disyaratkan kebijakan')
    expect(html).toContain(reason)
    expect(html).toMatch(/<code>awaiting_data<\/code> — 0 of 7 days of dendrometer data/)
    // the machine-readable record carries it too, under the signature
    const json = (await (await fetch(`${w.t.apiUrl}/verify/${id}.json`)).json()) as {
      valid: boolean
      signed: { record: { decision: Record<string, unknown> } }
    }
    expect(json.valid).toBe(true)
    expect(json.signed.record.decision).toMatchObject({
      by: 'budi',
      reason,
      basis: 'override',
      evidenceState: 'awaiting_data',
    })
  })

  it('a tree with the policy evidence is released by a plain decision, and its page shows no override', async () => {
    expect(stateOf(w.eligibleTree)).toBe('eligible')
    const res = await post(
      `/api/v1/trees/${w.eligibleTree}/decisions`,
      { decision: 'verify', reason: 'data checked, growth clear' },
      asOfficer(),
    )
    expect(res.status).toBe(200)
    await waitFor('the certificate to be stored', async () => {
      const id = certificatesOf(w.eligibleTree)[0]
      return id !== undefined && (await w.t.app.oksigen!.certificates.get(id)) !== undefined
    })
    const id = certificatesOf(w.eligibleTree)[0]!
    const html = await (await fetch(`${w.t.apiUrl}/verify/${id}`)).text()
    expect(html).not.toContain('id="override"')
    expect(html).toContain('bukti sesuai kebijakan / the policy&#39;s evidence')
    const json = (await (await fetch(`${w.t.apiUrl}/verify/${id}.json`)).json()) as {
      signed: { record: { decision: Record<string, unknown> } }
    }
    expect(json.signed.record.decision).toMatchObject({ by: 'budi', basis: 'evidence' })
    expect(json.signed.record.decision.evidenceState).toBeUndefined()
  })

  it('kampung trees decide acts as a console officer; a service account cannot', async () => {
    const { execFile } = await import('node:child_process')
    const { promisify } = await import('node:util')
    const run = promisify(execFile)
    const secret = serviceAuth.slice('Basic '.length)
    const [user, password] = Buffer.from(secret, 'base64').toString().split(':') as [string, string]
    const kampung = (env: Record<string, string>, ...args: string[]) =>
      run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'trees', '--api', w.t.apiUrl, ...args], {
        env: { ...process.env, KAMPUNG_LOG_LEVEL: 'warn', ...env },
      })
    // back to what the data says: a console officer through the CLI
    const reopened = await kampung(
      { KAMPUNG_OFFICER_PASSWORD: PASSWORDS.officer },
      'decide',
      w.awaitingTree,
      'reopen',
      '--officer',
      'budi',
      '--reason',
      'override withdrawn: wait for the sensor',
    )
    expect(reopened.stdout).toContain(`tree ${w.awaitingTree}: awaiting_data`)
    const plain = await kampung(
      { KAMPUNG_OFFICER_PASSWORD: PASSWORDS.officer },
      'decide',
      w.awaitingTree,
      'verify',
      '--officer',
      'budi',
      '--reason',
      'looks fine from the road',
    ).catch((err: { stderr: string; code: number }) => err)
    expect(plain).toMatchObject({ code: 1 })
    expect((plain as { stderr: string }).stderr).toMatch(/409: .*does not have the evidence/)
    // the session the CLI opened is closed again
    expect(
      w.t.app.registry.database().prepare("SELECT COUNT(*) AS n FROM sessions WHERE user = 'budi'").get(),
    ).toEqual({
      n: 1, // the test's own session (beforeAll)
    })
    // the service account's credentials are not a person's password
    const service = await kampung(
      { KAMPUNG_OFFICER_PASSWORD: password },
      'decide',
      w.awaitingTree,
      'verify',
      '--officer',
      user,
      '--override',
      '--reason',
      'an ingest worker overriding the policy',
    ).catch((err: { stderr: string; code: number }) => err)
    expect(service).toMatchObject({ code: 1 })
    expect((service as { stderr: string }).stderr).toMatch(/401: wrong user or password/)
    expect(stateOf(w.awaitingTree)).toBe('awaiting_data')
  }, 60_000)
})
