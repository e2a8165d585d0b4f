import { createHash } from 'node:crypto'
import { AuditLog } from '../audit/index.ts'
import type { Command, NewCommand } from '../commands/index.ts'
import { getLogger } from '../log.ts'
import { statement } from '../registry/index.ts'
import type { Farmer, Field, Language } from './directory.ts'
import { normaliseName } from './directory.ts'
import type { AlertEngine } from './engine.ts'
import type { InboundSms } from './notify-port.ts'
import { bmkgRainClass, fieldMoistureRule } from './rules/index.ts'
import { formatNumber, valueAndLimit } from './rules/schema.ts'
import { localClock, localDayStart } from './time.ts'

/**
 * Farmers open and close a field's valve by SMS (issue 17 scope 6):
 *   AIRI <field> <minutes>   (OPEN)  a `valve_open` command (maxDurationS = minutes · 60) to the
 *                                    field's valve node, within the field's limits
 *   TUTUP <field>            (CLOSE) a `valve_close` command
 * The reply confirms at once; a follow-up SMS comes only when the node refuses the command or does
 * not answer before it expires (`followUpValves`, on the engine's tick). Each command is in the
 * audit log with the farmer as actor, and in `valve_requests` (the field, the farmer, the minutes,
 * its outcome) for the day's limit and the follow-up.
 */

/** What farmers' valve commands need of src/commands: its CommandService. */
export interface CommandPort {
  submit(input: NewCommand, by?: string): { command: Command; created: boolean }
  get(id: string): Command | undefined
}

/** A probe reading older than this says nothing about the field being waterlogged now. */
const FRESH_MS = 6 * 3_600_000
const MINUTE_MS = 60_000
const log = getLogger('alerts.valves')
/** "30 menit", "30 mnt", "30 min": the unit after the number. */
const MINUTE_WORD = /^(MENIT|MNT|MIN|MINUTES?|M)$/

export interface ValveTextArgs {
  /** The field's name as the farmer knows it. */
  field: string
  minutes?: number
  /** Local time the valve closes by itself, as the reader writes it (07.40 / 07:40). */
  until?: string
  max?: number
  left?: number
  value?: number
  limit?: number
  rain?: string
  /** Fields with a valve the farmer may name (a list that would not fit is cut). */
  names?: string
}

type ValveText = (a: ValveTextArgs, lang: Language) => string
export type ValveTextId =
  | 'opened'
  | 'closed'
  | 'stopped'
  | 'unknown_field'
  | 'not_subscribed'
  | 'no_valve'
  | 'minutes'
  | 'waterlogged'
  | 'paddy_full'
  | 'heavy_rain'
  | 'day_limit'
  | 'unavailable'
  | 'failed_open'
  | 'failed_close'
  | 'expired_open'
  | 'expired_close'

const num = (x: number | undefined, lang: Language, decimals = 0) => formatNumber(x ?? 0, decimals, lang)

/**
 * Every valve SMS, in the farmer's language; GSM-7 and one segment with a 32-character field name
 * (tests/alerts/valve-sms.test.ts). "Airi sawah" is what farmers say; a valve is a "katup".
 */
export const VALVE_TEXTS: Record<Language, Record<ValveTextId, ValveText>> = {
  id: {
    opened: (a, l) =>
      `Katup ${a.field} dibuka ${num(a.minutes, l)} menit, tutup sendiri pukul ${a.until}. Kirim TUTUP ${a.field} untuk menutup lebih awal.`,
    closed: (a) => `Katup ${a.field} ditutup.`,
    stopped: () => 'Anda sudah berhenti berlangganan (STOP). Kirim MULAI dulu, lalu AIRI lagi.',
    unknown_field: (a) =>
      `Lahan ${a.field} tidak ditemukan.${a.names ? ` Lahan Anda dgn katup: ${a.names}` : ''}`,
    not_subscribed: (a) => `Anda tidak terdaftar di lahan ${a.field}. Hubungi petugas desa.`,
    no_valve: (a) => `Lahan ${a.field} tidak punya katup yang bisa dibuka lewat SMS.`,
    minutes: (a, l) =>
      `Tulis lama buka dalam menit, 1 sampai ${num(a.max, l)}, mis. AIRI ${a.field} 30. Katup belum dibuka.`,
    waterlogged: (a, l) => {
      const [v, lim] = valueAndLimit(a.value ?? 0, a.limit ?? 0, l)
      return `${a.field} tergenang: kelembapan tanah ${v}% (batas ${lim}%). Katup tidak dibuka.`
    },
    paddy_full: (a, l) =>
      `${a.field} sudah tergenang: air sawah ${num(a.value, l)} cm (cukup ${num(a.limit, l)} cm). Katup tidak dibuka.`,
    heavy_rain: (a, l) =>
      `${a.field}: hujan ${a.rain} ${num(a.value, l)} mm dlm 24 jam. Katup tidak dibuka; cek saluran pembuangan.`,
    day_limit: (a, l) =>
      `Batas katup ${a.field} ${num(a.max, l)} menit sehari; sisa hari ini ${num(a.left, l)} menit. Katup tidak dibuka.`,
    unavailable: (a) => `Katup ${a.field} tidak bisa dikendalikan sekarang. Coba lagi nanti.`,
    failed_open: (a) => `Katup ${a.field} gagal dibuka: alat menolak perintah. Hubungi petugas desa.`,
    failed_close: (a) => `Katup ${a.field} gagal ditutup: alat menolak perintah. Hubungi petugas desa.`,
    expired_open: (a) =>
      `Katup ${a.field} tidak menjawab, belum dibuka. Coba lagi nanti atau hubungi petugas desa.`,
    expired_close: (a) =>
      `Katup ${a.field} tidak menjawab perintah tutup. Katup tutup sendiri setelah waktunya habis.`,
  },
  en: {
    opened: (a, l) =>
      `Valve ${a.field} opening for ${num(a.minutes, l)} min, closes by itself at ${a.until}. Send CLOSE ${a.field} to close it sooner.`,
    closed: (a) => `Valve ${a.field} closing.`,
    stopped: () => 'You are unsubscribed (STOP). Send MULAI first, then the command again.',
    unknown_field: (a) =>
      `Field ${a.field} not found.${a.names ? ` Your fields with a valve: ${a.names}` : ''}`,
    not_subscribed: (a) => `You are not registered for field ${a.field}. Contact the village officer.`,
    no_valve: (a) => `Field ${a.field} has no valve that can be opened by SMS.`,
    minutes: (a, l) =>
      `Give the minutes to open, 1 to ${num(a.max, l)}, e.g. OPEN ${a.field} 30. The valve was not opened.`,
    waterlogged: (a, l) => {
      const [v, lim] = valueAndLimit(a.value ?? 0, a.limit ?? 0, l)
      return `${a.field} waterlogged: soil moisture ${v}% (limit ${lim}%). Valve not opened.`
    },
    paddy_full: (a, l) =>
      `${a.field} already flooded: water ${num(a.value, l)} cm (enough: ${num(a.limit, l)} cm). Valve not opened.`,
    heavy_rain: (a, l) =>
      `${a.field}: ${a.rain} rain, ${num(a.value, l)} mm in 24 h. Valve not opened; check the drains.`,
    day_limit: (a, l) =>
      `Valve ${a.field} limit ${num(a.max, l)} min a day; ${num(a.left, l)} min left today. Valve not opened.`,
    unavailable: (a) => `Valve ${a.field} cannot be controlled now. Try again later.`,
    failed_open: (a) => `Valve ${a.field} did not open: the device refused. Contact the village officer.`,
    failed_close: (a) => `Valve ${a.field} did not close: the device refused. Contact the village officer.`,
    expired_open: (a) =>
      `Valve ${a.field} did not answer and was not opened. Try again later or contact the village officer.`,
    expired_close: (a) =>
      `Valve ${a.field} did not answer the close command. It closes by itself when its time is up.`,
  },
}

const SMS_SEPTETS = 160

/** What the farmer typed as a field name, echoed only when it cannot change the SMS's alphabet or size. */
const echo = (name: string) => (/^[A-Z0-9_-]{1,32}$/.test(name) ? name : '?')

/** The list of names that still fits in one segment after `head` (cut with ".."). */
function fitNames(text: (names: string) => string, names: string[]): string {
  for (let k = names.length; k > 0; k--) {
    const list = names.slice(0, k).join(', ') + (k < names.length ? ', ..' : '')
    if (text(list).length <= SMS_SEPTETS) return list
  }
  return ''
}

interface RequestRow {
  command_id: string
  field: string
  farmer: string
  kind: 'open' | 'close'
  minutes: number | null
  at_ms: number
  outcome: string | null
}

/**
 * Minutes the field's valve was opened by SMS on the local day of `atMs`: each opening lasts its
 * minutes, or until the next valve command (a close, or a new opening that replaces it; `atMs`
 * itself for the last one, which a new opening would replace). Commands the node refused or never
 * answered do not count.
 */
export function minutesUsed(engine: AlertEngine, fieldId: string, atMs: number): number {
  const rows = statement(
    engine.registry.database(),
    `SELECT * FROM valve_requests WHERE field = ? AND at_ms >= ? AND at_ms <= ?
         AND (outcome IS NULL OR outcome = 'acknowledged') ORDER BY at_ms, command_id`,
  ).all(fieldId, localDayStart(atMs), atMs) as RequestRow[]
  let used = 0
  rows.forEach((r, i) => {
    if (r.kind !== 'open' || r.minutes === null) return
    const end = Math.min(r.at_ms + r.minutes * MINUTE_MS, rows[i + 1]?.at_ms ?? atMs)
    used += Math.ceil(Math.max(0, end - r.at_ms) / MINUTE_MS)
  })
  return used
}

/** Why the field should not be watered now (waterlogged, a full paddy, heavy rain), or undefined. */
function tooWet(
  engine: AlertEngine,
  field: Field,
  atMs: number,
): { id: 'waterlogged' | 'paddy_full' | 'heavy_rain'; args: Partial<ValveTextArgs> } | undefined {
  const firing = engine.listAlerts({ field: field.id, state: 'firing' })
  const m = engine.fieldMoisture(field)
  const wet = fieldMoistureRule(engine, field, 'waterlogged', atMs)
  const alert = firing.find((a) => a.rule === 'waterlogged')
  // The rule's own threshold; a firing alert in its hysteresis band is still waterlogged.
  if (wet.enabled && m && m.timeMs >= atMs - FRESH_MS && (m.value > wet.thresholdPct || alert))
    return { id: 'waterlogged', args: { value: m.value, limit: wet.thresholdPct } }
  const full = engine.config.valves.paddyFullCm
  const level = field.crop === 'rice' ? engine.fieldWaterLevel(field) : undefined
  if (level && level.timeMs >= atMs - FRESH_MS && level.value >= full)
    return { id: 'paddy_full', args: { value: level.value, limit: full } }
  const rain = engine.config.rules.heavyRain
  const mm = engine.villageRainMm(field.village, rain.windowMs, atMs)
  const heavy = firing.find((a) => a.rule === 'heavy_rain')
  if (rain.enabled && (mm >= rain.mm || heavy)) {
    const value = Math.max(mm, heavy?.value ?? 0)
    return { id: 'heavy_rain', args: { value, rain: bmkgRainClass(value)?.id ?? 'lebat' } }
  }
  return undefined
}

/**
 * AIRI / TUTUP from a registered farmer (the caller answers unregistered numbers): the reply text.
 * `words` are the SMS's words after the keyword, upper-cased.
 */
export function valveCommand(
  engine: AlertEngine,
  farmer: Farmer,
  kind: 'open' | 'close',
  words: string[],
  mo: InboundSms,
): string {
  const lang = farmer.language
  const texts = VALVE_TEXTS[lang]
  const atMs = mo.receivedAtMs
  if (kind === 'open' && farmer.stopped) return texts.stopped({ field: '' }, lang)
  // AIRI SAWAH1 30, AIRI SAWAH 1 30 (names compare without spaces), AIRI 30 SAWAH1, AIRI SAWAH1
  // 30 MENIT / 30MNT; TUTUP SAWAH1.
  if (kind === 'open') {
    if (words.length > 1 && MINUTE_WORD.test(words.at(-1)!)) words = words.slice(0, -1)
    words = words.map((w) => w.replace(/^(-?[\d.,]+)(MENIT|MNT|MIN|M)$/, '$1'))
  }
  const numeric = (w: string | undefined) => w !== undefined && /^-?[\d.,]+$/.test(w)
  let minutesWord: string | undefined
  let nameWords = words
  if (kind === 'open' && words.length >= 2 && numeric(words.at(-1))) {
    minutesWord = words.at(-1)
    nameWords = words.slice(0, -1)
  } else if (kind === 'open' && words.length >= 2 && numeric(words[0])) {
    minutesWord = words[0]
    nameWords = words.slice(1)
  }
  const mine = engine.directory
    .subscriptionsOf(farmer.id)
    .map((id) => engine.directory.getField(id))
    .filter((f): f is Field => f !== undefined)
  const byName = (name: string) => mine.find((f) => normaliseName(f.name) === name)
  let name = nameWords.join('')
  let field = byName(name)
  if (!field && minutesWord !== undefined && byName(words.join(''))) {
    // "AIRI SAWAH 1": the 1 was part of the name, and no minutes were given.
    name = words.join('')
    field = byName(name)
    minutesWord = undefined
  }
  if (!field) {
    const elsewhere = farmer.village ? engine.directory.findFieldByName(farmer.village, name) : undefined
    if (elsewhere) return texts.not_subscribed({ field: elsewhere.name }, lang)
    const withValve = mine.filter((f) => f.valve).map((f) => f.name)
    const field = echo(name)
    return texts.unknown_field(
      { field, names: fitNames((names) => texts.unknown_field({ field, names }, lang), withValve) },
      lang,
    )
  }
  const valve = field.valve
  if (!valve) return texts.no_valve({ field: field.name }, lang)
  const limits = engine.config.valves
  const maxOpen = valve.maxOpenMinutes ?? limits.maxOpenMinutes
  const maxDay = valve.maxMinutesPerDay ?? limits.maxMinutesPerDay
  const db = engine.registry.database()
  // One SMS, one command: delivered twice (same sender, time and text), it is the same command.
  const commandId = `sms-${farmer.id}-${atMs}-${createHash('sha256').update(mo.text).digest('hex').slice(0, 8)}`
  const until = (minutes: number) => {
    const t = localClock(atMs + minutes * MINUTE_MS)
    return lang === 'id' ? t.replace(':', '.') : t
  }
  const done = statement(db, 'SELECT * FROM valve_requests WHERE command_id = ?').get(commandId) as
    | RequestRow
    | undefined
  if (done)
    // The same SMS delivered twice: the same answer (the outbox drops the repeated reply).
    return done.kind === 'open'
      ? texts.opened({ field: field.name, minutes: done.minutes!, until: until(done.minutes!) }, lang)
      : texts.closed({ field: field.name }, lang)
  let minutes: number | undefined
  if (kind === 'open') {
    minutes = minutesWord !== undefined && /^\d+$/.test(minutesWord) ? Number(minutesWord) : Number.NaN
    if (!(Number.isInteger(minutes) && minutes >= 1 && minutes <= maxOpen))
      return texts.minutes({ field: field.name, max: maxOpen }, lang)
    const wet = tooWet(engine, field, atMs)
    if (wet) return texts[wet.id]({ field: field.name, ...wet.args }, lang)
    const left = Math.max(0, maxDay - minutesUsed(engine, field.id, atMs))
    if (minutes > left) return texts.day_limit({ field: field.name, max: maxDay, left }, lang)
  }
  const port = engine.commandPort()
  if (!port) return texts.unavailable({ field: field.name }, lang)
  let created: boolean
  try {
    created = port.submit(
      {
        id: commandId,
        device: valve.device,
        kind: kind === 'open' ? 'valve_open' : 'valve_close',
        params: kind === 'open' ? { maxDurationS: minutes! * 60 } : {},
        expiresInS: limits.commandExpiryS,
      },
      `farmer:${farmer.id}`,
    ).created
  } catch (err) {
    log.error({ err, field: field.id, device: valve.device }, 'valve command not accepted')
    return texts.unavailable({ field: field.name }, lang)
  }
  statement(
    db,
    `INSERT OR IGNORE INTO valve_requests (command_id, field, farmer, kind, minutes, at_ms)
       VALUES (?, ?, ?, ?, ?, ?)`,
  ).run(commandId, field.id, farmer.id, kind, minutes ?? null, atMs)
  if (created)
    new AuditLog(engine.registry).record(
      { kind: 'farmer', id: farmer.id, address: 'sms' },
      'command.send',
      commandId,
      {
        device: valve.device,
        kind: kind === 'open' ? 'valve_open' : 'valve_close',
        field: field.id,
        ...(minutes !== undefined ? { minutes } : {}),
      },
    )
  return kind === 'open'
    ? texts.opened({ field: field.name, minutes: minutes!, until: until(minutes!) }, lang)
    : texts.closed({ field: field.name }, lang)
}

/**
 * Farmers' valve commands whose outcome is not yet known: acknowledged ones are marked; a refused
 * (failed) or unanswered (expired) one gets its follow-up SMS, once (the outbox drops a repeated
 * key, so a crash between the SMS and the mark sends nothing twice).
 */
export function followUpValves(
  engine: AlertEngine,
  port: CommandPort,
  enqueue: (msg: { key: string; to: string; text: string }) => void,
  nowMs: number,
): void {
  const db = engine.registry.database()
  const open = statement(db, 'SELECT * FROM valve_requests WHERE outcome IS NULL').all() as RequestRow[]
  for (const r of open) {
    const command = port.get(r.command_id)
    if (!command || command.state === 'queued' || command.state === 'sent') continue
    if (command.state === 'failed' || command.state === 'expired') {
      const farmer = engine.directory.getFarmer(r.farmer)
      const field = engine.directory.getField(r.field)
      if (farmer && field) {
        const id = `${command.state === 'failed' ? 'failed' : 'expired'}_${r.kind}` as ValveTextId
        enqueue({
          key: `valve:${r.command_id}:${command.state}`,
          to: farmer.phone,
          text: VALVE_TEXTS[farmer.language][id]({ field: field.name }, farmer.language),
        })
      }
    }
    statement(
      db,
      'UPDATE valve_requests SET outcome = ?, notified_at_ms = ? WHERE command_id = ? AND outcome IS NULL',
    ).run(command.state, command.state === 'acknowledged' ? null : nowMs, r.command_id)
  }
}
