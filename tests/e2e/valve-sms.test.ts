import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { boardDriver, buildDistrict, type Fleet, provisionDistrict } from '../../firmware-sim/index.ts'
import { AuditLog } from '../../src/audit/index.ts'
import type { Command } from '../../src/commands/index.ts'
import { kannelMoService } from '../../src/notify/index.ts'
import { startApp, type TestApp, waitFor } from '../harness/app.ts'
import { liveFleet } from '../harness/fleet.ts'
import { type KannelHandle, kannelNotify, startKannel } from '../harness/kannel.ts'
import { freePort } from '../harness/ports.ts'

/**
 * Issue 17 scope 6 end to end, all real: a farmer's SMS "AIRI SAWAH1 30" comes from Kannel's fake
 * SMSC through our API's MO callback to the alerts engine, which sends a valve_open command
 * (src/commands) through the embedded broker and the village gateway to the simulated soil node's
 * johnny-five firmware; the valve opens, the farmer's "TUTUP SAWAH1" closes it, the water reaches
 * the field's soil model and the stored soil moisture rises. Replies go back through Kannel. A field
 * without a valve is refused; a "valve" on a node that has none is refused by the node, and the
 * farmer gets the follow-up SMS.
 */

const PHONE_BUDI = '+6281200000001'
const SHORT_CODE = '1234'
const SMS_TIMEOUT_MS = 30_000
/** A strong inlet, so that a few seconds of opening show in the data (the default is 0.5 mm/min). */
const FLOW_MM_PER_MIN = 1_200

describe('a farmer opens and closes a field’s valve by SMS, end to end', () => {
  let kannel: KannelHandle
  let t: TestApp
  let fleet: Fleet | undefined
  let driver: ReturnType<typeof boardDriver> | undefined
  let officer: Record<string, string>

  const digits = (phone: string) => phone.replace(/\D/g, '')
  const smsTo = (phone: string) => kannel.received().filter((m) => digits(m.to) === digits(phone))

  /** Waits for an SMS to the phone at the fake SMSC matching `pattern`, and returns its text. */
  async function smsMatching(phone: string, pattern: RegExp): Promise<string> {
    try {
      await waitFor(
        `an SMS to ${phone} matching ${pattern}`,
        () => smsTo(phone).some((m) => pattern.test(m.text)),
        SMS_TIMEOUT_MS,
      )
    } catch (err) {
      const seen = { outbox: t.app.notify?.outbox.list(), smsc: kannel.received() }
      throw new Error(`${(err as Error).message}\n${JSON.stringify(seen, null, 1).slice(0, 6000)}`)
    }
    return smsTo(phone).find((m) => pattern.test(m.text))!.text
  }

  async function api(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; json: unknown }> {
    const res = await fetch(`${t.apiUrl}/api/v1${path}`, {
      method,
      headers: officer,
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    return { status: res.status, json: await res.json() }
  }

  beforeAll(async () => {
    const apiPort = await freePort()
    const callbackBaseUrl = `http://127.0.0.1:${apiPort}/api/v1`
    const callbackToken = 'e2e-valve-callback-token-7c1d'
    kannel = await startKannel({
      moUrl: `${callbackBaseUrl}/sms/kannel/mo`,
      smsService: kannelMoService({ callbackBaseUrl, callbackToken }),
    })
    t = await startApp({
      api: { port: apiPort },
      commands: { resendAfterS: 1, checkEveryMs: 200 },
      notify: {
        sender: 'kannel',
        kannel: kannelNotify(kannel, callbackBaseUrl, callbackToken),
        outbox: { pollIntervalMs: 100, retryBaseMs: 200, retryMaxMs: 1000, maxAttempts: 1000 },
      },
      alerts: {
        tickIntervalMs: 200,
        // no quiet hours: the test must not depend on the time of day it runs at
        quietHours: { start: '00:00', end: '00:00' },
        valves: { maxOpenMinutes: 60, commandExpiryS: 60 },
      },
    })
  }, 60_000)
  afterAll(async () => {
    await fleet?.stop()
    driver?.stop()
    await t?.stop()
    await kannel?.stop()
  })

  it('AIRI SAWAH1 30 → confirmed, the node’s valve opens; TUTUP SAWAH1 → closed; the field’s moisture rises in the stored data', async () => {
    const startMs = Date.now() - 5_000
    const villages = buildDistrict({ seed: 7, villages: 1, fieldsPerVillage: 2, treesPerVillage: 0, startMs })
    const village = villages[0]!
    const soil = village.nodes.filter((n) => n.kind === 'soil')
    const paddy = soil[0]! // rice under AWD
    const maize = soil[1]! // the field with the valve
    const station = village.nodes.find((n) => n.kind === 'weather')!
    const secrets = await provisionDistrict(t.app.registry, villages)
    const consoleSecret = await t.addDevice({ id: 'console', village: village.id, kind: 'service' })
    officer = {
      authorization: `Basic ${Buffer.from(`console:${consoleSecret}`).toString('base64')}`,
      'content-type': 'application/json',
    }
    // Registered the way an officer does it: through the API, the valve with the field.
    const fields = [
      { id: 'f-sawah1', name: 'SAWAH1', crop: 'maize', devices: [maize.id], valve: { device: maize.id } },
      { id: 'f-sawah2', name: 'SAWAH2', crop: 'rice', devices: [paddy.id] },
      // a "valve" on the weather station, which has no relay: the node refuses the command
      { id: 'f-sawah3', name: 'SAWAH3', crop: 'maize', devices: [], valve: { device: station.id } },
    ]
    for (const f of fields) {
      const res = await api('POST', '/fields', { ...f, village: village.id, stage: 'mid', areaHa: 0.2 })
      expect(res.status, JSON.stringify(res.json)).toBe(201)
    }
    const budi = await api('POST', '/farmers', {
      id: 'pak-budi',
      name: 'Pak Budi',
      phone: PHONE_BUDI,
      village: village.id,
      quietStart: '00:00',
      quietEnd: '00:00',
      fields: fields.map((f) => f.id),
    })
    expect(budi.status, JSON.stringify(budi.json)).toBe(201)

    driver = boardDriver(1_000, { valveFlowMmPerMin: FLOW_MM_PER_MIN })
    fleet = await liveFleet(t, { villages, secrets, startMs, driver })
    const moisture = async () =>
      (await t.app.store.query({ quantity: 'soil_moisture', device: maize.id })).sort(
        (a, b) => a.timeMs - b.timeMs,
      )
    await waitFor('the maize field reports', async () => (await moisture()).length >= 3)
    const fw = driver.firmwareOf(maize.id)!
    expect(fw.valveOpen).toBe(false)

    // Open.
    await kannel.injectMo(PHONE_BUDI, SHORT_CODE, 'AIRI SAWAH1 30')
    expect(await smsMatching(PHONE_BUDI, /^Katup SAWAH1/)).toMatch(
      /^Katup SAWAH1 dibuka 30 menit, tutup sendiri pukul \d\d\.\d\d\. Kirim TUTUP SAWAH1 untuk menutup lebih awal\.$/,
    )
    const commandsOf = (device: string): Command[] => t.app.commands!.list(device)
    await waitFor('valve_open acknowledged', () => commandsOf(maize.id)[0]?.state === 'acknowledged')
    const [open] = commandsOf(maize.id)
    expect(open).toMatchObject({
      kind: 'valve_open',
      params: { maxDurationS: 1_800 },
      createdBy: 'farmer:pak-budi',
    })
    expect(fw.valveOpen).toBe(true)
    const audit = new AuditLog(t.app.registry).list().filter((e) => e.action === 'command.send')
    expect(audit.map((e) => [e.actorKind, e.actor, e.target])).toEqual([['farmer', 'pak-budi', open!.id]])

    // Let some water through, then close.
    await new Promise((r) => setTimeout(r, 3_000))
    const before = (await moisture()).at(-1)!
    await kannel.injectMo(PHONE_BUDI, SHORT_CODE, 'TUTUP SAWAH1')
    expect(await smsMatching(PHONE_BUDI, /ditutup/)).toBe('Katup SAWAH1 ditutup.')
    await waitFor(
      'valve_close acknowledged',
      () =>
        commandsOf(maize.id)[0]?.kind === 'valve_close' && commandsOf(maize.id)[0]?.state === 'acknowledged',
    )
    await waitFor('the valve is closed', () => !fw.valveOpen, 5_000)
    // ~3 s at 1 200 mm/min ≈ 60 mm into the field: its stored moisture rises.
    await waitFor(
      'the stored soil moisture rises',
      async () => ((await moisture()).at(-1)?.value ?? 0) - before.value > 3,
      15_000,
    )
    const after = (await moisture()).at(-1)!
    expect(after.timeMs).toBeGreaterThan(before.timeMs)

    // A field without a valve: refused, no command to its node.
    await kannel.injectMo(PHONE_BUDI, SHORT_CODE, 'AIRI SAWAH2 30')
    expect(await smsMatching(PHONE_BUDI, /SAWAH2/)).toBe(
      'Lahan SAWAH2 tidak punya katup yang bisa dibuka lewat SMS.',
    )
    expect(commandsOf(paddy.id)).toEqual([])

    // A node that refuses (no relay): the farmer is told it failed, once.
    await kannel.injectMo(PHONE_BUDI, SHORT_CODE, 'AIRI SAWAH3 10')
    expect(await smsMatching(PHONE_BUDI, /^Katup SAWAH3 dibuka/)).toMatch(/^Katup SAWAH3 dibuka 10 menit/)
    expect(await smsMatching(PHONE_BUDI, /SAWAH3 gagal/)).toBe(
      'Katup SAWAH3 gagal dibuka: alat menolak perintah. Hubungi petugas desa.',
    )
    expect(commandsOf(station.id)).toMatchObject([{ state: 'failed', error: 'no valve on this node' }])
    await new Promise((r) => setTimeout(r, 1_000))
    expect(smsTo(PHONE_BUDI).filter((m) => /gagal/.test(m.text))).toHaveLength(1)
  }, 90_000)
})
