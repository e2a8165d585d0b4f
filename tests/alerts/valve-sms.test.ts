import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import {
  HELP,
  VALVE_HELP,
  VALVE_TEXTS,
  type ValveTextArgs,
  type ValveTextId,
} from '../../src/alerts/index.ts'
import { AuditLog } from '../../src/audit/index.ts'
import { CommandService, defaultCommandOptions } from '../../src/commands/index.ts'
import { isGsm7 } from '../../src/notify/encoding.ts'
import { HOUR, MIN, only, PHONE_A, type Rig, reading, rig, seed } from './helpers.ts'

/**
 * Issue 17 scope 6 at the engine: farmers' AIRI / TUTUP SMS through the outbox's MO handler, with
 * the real CommandService on the same registry (src/commands), so a command is there or not. The
 * end-to-end path (Kannel, broker, gateway, node firmware, stored moisture) is
 * tests/e2e/valve-sms.test.ts.
 */

const PHONE_SRI = '+6281200000002'
const PHONE_EN = '+6281200000003'
const PHONE_NOBODY = '+6281299999999'

/** GSM-7 septets: the extension table's characters cost two. */
function septets(text: string): number {
  let n = 0
  for (const ch of text) n += '^{}\\[~]|€'.includes(ch) ? 2 : 1
  return n
}

describe('farmers open a field’s valve by SMS', () => {
  let r: Rig
  let commands: CommandService
  const published: Array<{ device: string; payload: string }> = []

  beforeEach(async () => {
    published.length = 0
    r = await rig(
      {
        ...only('waterlogged', 'heavyRain'),
        valves: { maxOpenMinutes: 120, maxMinutesPerDay: 360, commandExpiryS: 600 },
      },
      { commands: () => commands },
    )
    commands = new CommandService({
      ...defaultCommandOptions,
      checkEveryMs: 50,
      registry: r.registry,
      link: {
        async publishDown(device, payload) {
          published.push({ device: device.id, payload })
        },
      },
    })
    await commands.start()
    await seed(r)
    await r.registry.addDevice({ id: 'valve-1', village: 'kemiren', kind: 'soil', format: 'json' })
    await r.registry.addDevice({ id: 'valve-2', village: 'kemiren', kind: 'soil', format: 'json' })
    const d = r.engine.directory
    d.updateField('kemiren-sawah1', { valve: { device: 'valve-1' } })
    d.updateField('kemiren-sawah2', { valve: { device: 'valve-2' } })
    d.addField({
      id: 'kemiren-sawah3',
      village: 'kemiren',
      name: 'SAWAH3',
      crop: 'chili',
      stage: 'mid',
      areaHa: 0.1,
    })
    d.subscribe('pak-budi', 'kemiren-sawah3')
    d.addFarmer({ id: 'mr-tan', name: 'Mr Tan', phone: PHONE_EN, village: 'kemiren', language: 'en' })
    d.subscribe('mr-tan', 'kemiren-sawah1')
  })
  afterEach(async () => {
    await commands.stop()
    await r.stop()
  })

  /** The farmer's SMS, and the reply it got. */
  async function sms(from: string, text: string): Promise<string> {
    const before = r.outbox.to(from).length
    await r.outbox.receive(from, text)
    const replies = r.outbox.to(from)
    expect(replies.length, `one reply to "${text}"`).toBe(before + 1)
    return replies.at(-1)!.text
  }
  const valveCommands = (device = 'valve-1') => commands.list(device)

  it('AIRI SAWAH1 30 → a valve_open command of 30 minutes to the field’s valve, confirmed, audited with the farmer', async () => {
    // 08:00 WIB
    expect(await sms(PHONE_A, 'airi sawah1 30')).toBe(
      'Katup SAWAH1 dibuka 30 menit, tutup sendiri pukul 08.30. Kirim TUTUP SAWAH1 untuk menutup lebih awal.',
    )
    const [cmd, ...more] = valveCommands()
    expect(more).toEqual([])
    expect(cmd).toMatchObject({
      device: 'valve-1',
      kind: 'valve_open',
      params: { maxDurationS: 1_800 },
      state: 'queued',
      createdBy: 'farmer:pak-budi',
    })
    // expires after alerts.valves.commandExpiryS (real time: the command service's clock)
    expect(cmd!.expiresAtMs - cmd!.createdAtMs).toBe(600_000)
    const audit = new AuditLog(r.registry).list().filter((e) => e.action === 'command.send')
    expect(audit.map((e) => [e.actorKind, e.actor, e.address, e.target, e.detail])).toEqual([
      [
        'farmer',
        'pak-budi',
        'sms',
        cmd!.id,
        { device: 'valve-1', kind: 'valve_open', field: 'kemiren-sawah1', minutes: 30 },
      ],
    ])
    // The same MO delivered twice (same time, same text): no second command, no second entry.
    const at = r.clock.now
    await r.outbox.receive(PHONE_A, 'airi sawah1 30', at)
    expect(valveCommands()).toHaveLength(1)
    expect(new AuditLog(r.registry).list().filter((e) => e.action === 'command.send')).toHaveLength(1)

    // Names compare without case or spaces; the minutes may come first.
    r.clock.now += 5 * MIN
    expect(await sms(PHONE_A, 'AIRI  Sawah 1  45')).toMatch(
      /^Katup SAWAH1 dibuka 45 menit, tutup sendiri pukul 08\.50\./,
    )
    r.clock.now += MIN
    expect(await sms(PHONE_A, 'AIRI 10 SAWAH1')).toMatch(/^Katup SAWAH1 dibuka 10 menit/)
    expect(await sms(PHONE_A, 'AIRI SAWAH1 15 menit')).toMatch(/^Katup SAWAH1 dibuka 15 menit/)
    expect(valveCommands().map((c) => c.params)).toEqual([
      { maxDurationS: 900 },
      { maxDurationS: 600 },
      { maxDurationS: 2_700 },
      { maxDurationS: 1_800 },
    ])

    // TUTUP closes; in English for an English-speaking farmer.
    r.clock.now += MIN
    expect(await sms(PHONE_A, 'TUTUP SAWAH1')).toBe('Katup SAWAH1 ditutup.')
    expect(valveCommands()[0]).toMatchObject({
      kind: 'valve_close',
      params: {},
      createdBy: 'farmer:pak-budi',
    })
    expect(await sms(PHONE_EN, 'open sawah1 20')).toBe(
      'Valve SAWAH1 opening for 20 min, closes by itself at 08:27. Send CLOSE SAWAH1 to close it sooner.',
    )
    expect(await sms(PHONE_EN, 'close sawah1')).toBe('Valve SAWAH1 closing.')
    expect(valveCommands()).toHaveLength(7)
    // The help of a farmer with a valve names the valve commands.
    expect(await sms(PHONE_A, 'BANTUAN')).toBe(VALVE_HELP.id)
    expect(await sms(PHONE_EN, 'HELP')).toBe(VALVE_HELP.en)
  })

  it('refuses, each with its own reason and no command: unregistered, STOP, not subscribed, unknown field, no valve, bad minutes', async () => {
    const refused = async (from: string, text: string, reply: string | RegExp) => {
      const answer = await sms(from, text)
      if (typeof reply === 'string') expect(answer).toBe(reply)
      else expect(answer).toMatch(reply)
      expect(valveCommands('valve-1'), text).toEqual([])
      expect(valveCommands('valve-2'), text).toEqual([])
    }
    await r.outbox.receive(PHONE_NOBODY, 'AIRI SAWAH1 30')
    expect(r.outbox.to(PHONE_NOBODY).map((m) => [m.text, m.unregistered])).toEqual([
      ['Nomor ini belum terdaftar. Hubungi petugas desa / PPL.', true],
    ])
    expect(valveCommands()).toEqual([])
    // Bu Sri (SAWAH1 and SAWAH2) said STOP: no valve until MULAI.
    await sms(PHONE_SRI, 'STOP')
    await refused(
      PHONE_SRI,
      'AIRI SAWAH2 30',
      'Anda sudah berhenti berlangganan (STOP). Kirim MULAI dulu, lalu AIRI lagi.',
    )
    // Pak Budi is not subscribed to SAWAH2 (Bu Sri's), which has a valve.
    await refused(PHONE_A, 'AIRI SAWAH2 30', 'Anda tidak terdaftar di lahan SAWAH2. Hubungi petugas desa.')
    await refused(PHONE_A, 'TUTUP SAWAH2', 'Anda tidak terdaftar di lahan SAWAH2. Hubungi petugas desa.')
    await refused(PHONE_A, 'AIRI SAWAH9 30', 'Lahan SAWAH9 tidak ditemukan. Lahan Anda dgn katup: SAWAH1')
    await refused(PHONE_A, 'AIRI SAWAH3 30', 'Lahan SAWAH3 tidak punya katup yang bisa dibuka lewat SMS.')
    const minutes = 'Tulis lama buka dalam menit, 1 sampai 120, mis. AIRI SAWAH1 30. Katup belum dibuka.'
    for (const text of [
      'AIRI SAWAH1',
      'AIRI SAWAH1 0',
      'AIRI SAWAH1 2,5',
      'AIRI SAWAH1 121',
      'AIRI SAWAH1 -5',
      'AIRI SAWAH1 X',
    ])
      await refused(PHONE_A, text, text === 'AIRI SAWAH1 X' ? /^Lahan SAWAH1X tidak ditemukan/ : minutes)
    // The field's own limit wins over alerts.valves.
    r.engine.directory.updateField('kemiren-sawah1', { valve: { maxOpenMinutes: 20 } })
    await refused(PHONE_A, 'AIRI SAWAH1 25', /^Tulis lama buka dalam menit, 1 sampai 20,/)
    expect(await sms(PHONE_EN, 'OPEN SAWAH1 99')).toBe(
      'Give the minutes to open, 1 to 20, e.g. OPEN SAWAH1 30. The valve was not opened.',
    )
    // Closing is always safe: allowed after STOP too.
    expect(await sms(PHONE_SRI, 'TUTUP SAWAH2')).toBe('Katup SAWAH2 ditutup.')
    expect(valveCommands('valve-2').map((c) => c.kind)).toEqual(['valve_close'])
    // After MULAI, Bu Sri opens her SAWAH2.
    await sms(PHONE_SRI, 'MULAI')
    expect(await sms(PHONE_SRI, 'AIRI SAWAH2 15')).toMatch(/^Katup SAWAH2 dibuka 15 menit/)
    expect(valveCommands('valve-2').map((c) => c.kind)).toEqual(['valve_open', 'valve_close'])
  })

  it('refuses a waterlogged field, a flooded paddy and a field after heavy rain, saying why', async () => {
    const t = r.clock.now
    // SAWAH1 (chili) reads 41 % VWC: above the waterlogged threshold (38 %, helpers.only).
    r.engine.onReadings([reading('soil-1', 'soil_moisture', 41, t - 10 * MIN)])
    expect(await sms(PHONE_A, 'AIRI SAWAH1 30')).toBe(
      'SAWAH1 tergenang: kelembapan tanah 41% (batas 38%). Katup tidak dibuka.',
    )
    expect(await sms(PHONE_EN, 'OPEN SAWAH1 30')).toBe(
      'SAWAH1 waterlogged: soil moisture 41% (limit 38%). Valve not opened.',
    )
    expect(valveCommands()).toEqual([])
    r.engine.onReadings([reading('soil-1', 'soil_moisture', 30, t - 5 * MIN)])
    r.clock.now += MIN
    expect(await sms(PHONE_A, 'AIRI SAWAH1 30')).toMatch(/^Katup SAWAH1 dibuka 30 menit/)
    expect(valveCommands()).toHaveLength(1)

    // 62 mm of rain at the village station in the last 24 h: BMKG "lebat".
    r.clock.now += MIN
    r.engine.onReadings([reading('wx-1', 'rainfall', 62, r.clock.now - 3 * HOUR)])
    expect(await sms(PHONE_A, 'AIRI SAWAH1 30')).toBe(
      'SAWAH1: hujan lebat 62 mm dlm 24 jam. Katup tidak dibuka; cek saluran pembuangan.',
    )
    expect(valveCommands()).toHaveLength(1)
    // Closing is always allowed.
    expect(await sms(PHONE_A, 'TUTUP SAWAH1')).toBe('Katup SAWAH1 ditutup.')
    expect(valveCommands()).toHaveLength(2)

    // A paddy with 6 cm of standing water (alerts.valves.paddyFullCm 5) in another village (no rain).
    r.registry.addVillage({ id: 'licin', name: 'Licin' })
    await r.registry.addDevice({ id: 'awd-1', village: 'licin', kind: 'soil', format: 'json' })
    await r.registry.addDevice({ id: 'valve-3', village: 'licin', kind: 'soil', format: 'json' })
    const d = r.engine.directory
    d.addField({
      id: 'licin-sawah1',
      village: 'licin',
      name: 'PADI1',
      crop: 'rice',
      stage: 'development',
      areaHa: 0.25,
      devices: ['awd-1'],
      valve: { device: 'valve-3' },
    })
    d.subscribe('pak-budi', 'licin-sawah1')
    r.engine.onReadings([reading('awd-1', 'water_level', 6, r.clock.now - MIN, 'licin')])
    expect(await sms(PHONE_A, 'AIRI PADI1 30')).toBe(
      'PADI1 sudah tergenang: air sawah 6 cm (cukup 5 cm). Katup tidak dibuka.',
    )
    expect(valveCommands('valve-3')).toEqual([])
    r.clock.now += MIN
    r.engine.onReadings([reading('awd-1', 'water_level', -12, r.clock.now - MIN, 'licin')])
    expect(await sms(PHONE_A, 'AIRI PADI1 30')).toMatch(/^Katup PADI1 dibuka 30 menit/)
    expect(valveCommands('valve-3')).toHaveLength(1)
  })

  it('keeps to the field’s minutes per day: an opening counts until it ends or the next command', async () => {
    r.engine.directory.updateField('kemiren-sawah1', { valve: { maxMinutesPerDay: 60 } })
    expect(await sms(PHONE_A, 'AIRI SAWAH1 30')).toMatch(/dibuka 30 menit/) // 08:00, 30 used
    r.clock.now += 40 * MIN
    expect(await sms(PHONE_A, 'AIRI SAWAH1 40')).toBe(
      'Batas katup SAWAH1 60 menit sehari; sisa hari ini 30 menit. Katup tidak dibuka.',
    )
    expect(await sms(PHONE_A, 'AIRI SAWAH1 30')).toMatch(/dibuka 30 menit/) // 08:40, 60 planned
    r.clock.now += 5 * MIN
    // Closed after 5 minutes: 35 used, 25 left.
    expect(await sms(PHONE_A, 'TUTUP SAWAH1')).toBe('Katup SAWAH1 ditutup.')
    expect(await sms(PHONE_EN, 'OPEN SAWAH1 26')).toBe(
      'Valve SAWAH1 limit 60 min a day; 25 min left today. Valve not opened.',
    )
    expect(await sms(PHONE_EN, 'OPEN SAWAH1 25')).toMatch(/^Valve SAWAH1 opening for 25 min/)
    expect(valveCommands()).toHaveLength(4)
    // A new local day starts with the whole allowance.
    r.clock.now += 24 * HOUR
    expect(await sms(PHONE_A, 'AIRI SAWAH1 60')).toMatch(/dibuka 60 menit/)
  })

  it('a refused or unanswered valve command gets one follow-up SMS; an acknowledged one none', async () => {
    await sms(PHONE_A, 'AIRI SAWAH1 30')
    r.clock.now += MIN
    await sms(PHONE_SRI, 'AIRI SAWAH2 20')
    const [open1] = valveCommands('valve-1')
    const [open2] = valveCommands('valve-2')
    // Both nodes come online: the commands go out on their down topics.
    for (const device of ['valve-1', 'valve-2'])
      commands.onStatus({ village: 'kemiren', device, state: 'online', atMs: Date.now() })
    await vi.waitFor(() => expect(published).toHaveLength(2))
    await vi.waitFor(() => expect(commands.get(open1!.id)?.state).toBe('sent'))
    await vi.waitFor(() => expect(commands.get(open2!.id)?.state).toBe('sent'))
    commands.onAck('valve-1', JSON.stringify({ id: open1!.id, ok: true }))
    commands.onAck('valve-2', JSON.stringify({ id: open2!.id, ok: false, error: 'relay stuck' }))
    const before = { a: r.outbox.to(PHONE_A).length, sri: r.outbox.to(PHONE_SRI).length }
    r.engine.tick()
    r.engine.tick()
    expect(r.outbox.to(PHONE_A)).toHaveLength(before.a)
    expect(
      r.outbox
        .to(PHONE_SRI)
        .slice(before.sri)
        .map((m) => m.text),
    ).toEqual(['Katup SAWAH2 gagal dibuka: alat menolak perintah. Hubungi petugas desa.'])
  })

  it('a valve node that does not answer before the command expires: the farmer is told, once', async () => {
    await r.stop()
    await commands.stop()
    r = await rig({ valves: { commandExpiryS: 1 } }, { commands: () => commands })
    commands = new CommandService({ ...defaultCommandOptions, checkEveryMs: 50, registry: r.registry })
    await commands.start()
    await seed(r)
    await r.registry.addDevice({ id: 'valve-1', village: 'kemiren', kind: 'soil', format: 'json' })
    r.engine.directory.updateField('kemiren-sawah1', { valve: { device: 'valve-1' } })
    await sms(PHONE_A, 'AIRI SAWAH1 30')
    await sms(PHONE_A, 'TUTUP SAWAH1')
    r.engine.tick()
    expect(r.outbox.to(PHONE_A)).toHaveLength(2) // still queued: nothing to say yet
    await vi.waitFor(() => expect(valveCommands().map((c) => c.state)).toEqual(['expired', 'expired']), {
      timeout: 3_000,
    })
    r.engine.tick()
    r.engine.tick()
    expect(
      r.outbox
        .to(PHONE_A)
        .slice(2)
        .map((m) => m.text),
    ).toEqual([
      'Katup SAWAH1 tidak menjawab, belum dibuka. Coba lagi nanti atau hubungi petugas desa.',
      'Katup SAWAH1 tidak menjawab perintah tutup. Katup tutup sendiri setelah waktunya habis.',
    ])
    // After a restart the outcome is remembered: nothing again.
    await commands.stop()
    await r.restart()
    commands = new CommandService({ ...defaultCommandOptions, checkEveryMs: 50, registry: r.registry })
    await commands.start()
    expect(valveCommands().map((c) => c.state)).toEqual(['expired', 'expired'])
    r.engine.tick()
    expect(r.outbox.to(PHONE_A)).toHaveLength(4)
  })
})

describe('a field’s valve in its configuration', () => {
  let r: Rig
  beforeEach(async () => {
    r = await rig()
    await seed(r)
  })
  afterEach(async () => r.stop())

  it('must be a registered node of the field’s village, with whole-minute limits; null removes it', async () => {
    await r.registry.addDevice({ id: 'valve-1', village: 'kemiren', kind: 'soil', format: 'json' })
    r.registry.addVillage({ id: 'licin', name: 'Licin' })
    await r.registry.addDevice({ id: 'valve-far', village: 'licin', kind: 'soil', format: 'json' })
    const d = r.engine.directory
    const problems = (patch: Parameters<typeof d.updateField>[1]) => {
      try {
        d.updateField('kemiren-sawah1', patch)
        return 'accepted'
      } catch (err) {
        return (err as Error).message
      }
    }
    expect(problems({ valve: { device: 'nope' } })).toBe(
      'field kemiren-sawah1: valve.device: "nope" is not a registered device',
    )
    expect(problems({ valve: { device: 'valve-far' } })).toBe(
      'field kemiren-sawah1: valve.device: "valve-far" is in village licin, not kemiren',
    )
    expect(problems({ valve: { device: 'gw-1' } })).toBe(
      'field kemiren-sawah1: valve.device: "gw-1" is a gateway; a valve is driven by a node',
    )
    expect(problems({ valve: { device: 'valve-1', maxOpenMinutes: 0, maxMinutesPerDay: 1.5 } })).toBe(
      'field kemiren-sawah1: valve.maxOpenMinutes: whole minutes from 1 to 720, got 0; field kemiren-sawah1: valve.maxMinutesPerDay: whole minutes from 1 to 1440, got 1.5',
    )
    expect(problems({ valve: { maxOpenMinutes: 30 } })).toBe(
      'field kemiren-sawah1: valve.device: the id of the node driving the valve is required',
    )
    expect(problems({ valve: { device: 'valve-1', maxOpenMinutes: 30 } })).toBe('accepted')
    expect(d.getField('kemiren-sawah1')?.valve).toEqual({ device: 'valve-1', maxOpenMinutes: 30 })
    d.updateField('kemiren-sawah1', { valve: { maxOpenMinutes: null, maxMinutesPerDay: 90 } })
    expect(d.getField('kemiren-sawah1')?.valve).toEqual({ device: 'valve-1', maxMinutesPerDay: 90 })
    d.updateField('kemiren-sawah1', { valve: null })
    expect(d.getField('kemiren-sawah1')?.valve).toBeUndefined()
  })

  it('an unknown field’s reply lists the farmer’s valve fields only as far as one SMS holds', async () => {
    await r.registry.addDevice({ id: 'valve-1', village: 'kemiren', kind: 'soil', format: 'json' })
    const d = r.engine.directory
    for (let i = 10; i < 22; i++) {
      d.addField({
        id: `kemiren-long${i}`,
        village: 'kemiren',
        name: `SAWAH BELAKANG MASJID PAK HARJ${i}`, // 32 characters
        crop: 'chili',
        stage: 'mid',
        areaHa: 0.1,
        valve: { device: 'valve-1' },
      })
      d.subscribe('pak-budi', `kemiren-long${i}`)
    }
    await r.outbox.receive(PHONE_A, 'AIRI SAWAH BELAKANG MASJID PAK HARJO9 30')
    const [reply] = r.outbox.to(PHONE_A).map((m) => m.text)
    expect(reply).toBe(
      'Lahan SAWAHBELAKANGMASJIDPAKHARJO9 tidak ditemukan. Lahan Anda dgn katup: SAWAH BELAKANG MASJID PAK HARJ10, SAWAH BELAKANG MASJID PAK HARJ11, ..',
    )
    expect(septets(reply!)).toBeLessThanOrEqual(160)
  })
})

describe('valve SMS texts', () => {
  it('every valve template and help, both languages, is ONE GSM-7 segment with the longest names', () => {
    const longestField = 'SAWAH BELAKANG MASJID PAK HARJO1' // 32 characters, the most a field name may have
    const many = Array.from({ length: 12 }, (_, i) => `SAWAH BELAKANG MASJID PAK HARJ${i + 10}`)
    const worst: ValveTextArgs = {
      field: longestField,
      minutes: 720,
      until: '23.59',
      max: 1_440,
      left: 1_440,
      value: 99.9,
      limit: 99.9,
      rain: 'sangat lebat',
    }
    let longest = { septets: 0, text: '' }
    for (const lang of ['id', 'en'] as const) {
      const texts = [HELP[lang], VALVE_HELP[lang]]
      for (const id of Object.keys(VALVE_TEXTS[lang]) as ValveTextId[]) {
        texts.push(VALVE_TEXTS[lang][id](worst, lang))
        texts.push(VALVE_TEXTS[lang][id]({ ...worst, value: 212, rain: 'ekstrem' }, lang))
      }
      // The unknown-field reply lists the farmer's valve fields only as far as they fit.
      const list = `${many.slice(0, 2).join(', ')}, ..`
      texts.push(VALVE_TEXTS[lang].unknown_field({ field: longestField, names: list }, lang))
      for (const text of texts) {
        expect(isGsm7(text), `${lang}: ${text}`).toBe(true)
        expect.soft(septets(text), `${lang} (${septets(text)}): ${text}`).toBeLessThanOrEqual(160)
        if (septets(text) > longest.septets) longest = { septets: septets(text), text }
      }
    }
    expect(longest.septets).toBeGreaterThan(120)
  })
})
