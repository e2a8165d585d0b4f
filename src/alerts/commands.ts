import { AuditLog } from '../audit/index.ts'
import type { Field, Language } from './directory.ts'
import { normaliseName } from './directory.ts'
import type { AlertEngine } from './engine.ts'
import type { InboundSms } from './notify-port.ts'
import { formatNumber, LABELS } from './templates.ts'
import { localClock } from './time.ts'
import { valveCommand } from './valves.ts'

/** Local time as the reader writes it: Indonesian 07.00, English 07:00. */
function clockOf(ms: number, lang: Language): string {
  const t = localClock(ms)
  return lang === 'id' ? t.replace(':', '.') : t
}

/** A farmer may report at most this much water in one reply [mm] (more is a typo, e.g. litres). */
const MAX_REPORTED_MM = 300

/**
 * Farmer commands by SMS (playSMS-style keywords), case- and whitespace-insensitive:
 *   OK <id>       acknowledge alert <id> (only an alert on one of the farmer's fields)
 *   CEK <field>   latest readings of that field
 *   SUDAH [field] watered: we assume the amount advised was applied, i.e. the whole deficit, so
 *                 the field is back at field capacity and the irrigation balance restarts now;
 *                 SUDAH and AIR acknowledge the field's firing dry / water_low / irrigate alerts (no reminders)
 *   AIR <mm> [field]  this many mm were applied; subtracted from the balance
 *                 (without a field name: the farmer's only field, else the ones with a dry alert)
 *   AIRI <field> <minutes>  open the field's valve (OPEN); TUTUP <field> closes it (CLOSE):
 *                 a command to the valve's node, within the field's limits (valves.ts)
 *   STOP          unsubscribe: nothing more is sent (MULAI subscribes again)
 *   BANTUAN       the commands (HELP in English); with the valve commands for a farmer of a
 *                 field with a valve
 * Anything else gets a short help. A number that is not a registered farmer gets one line saying so.
 */

const HELP: Record<Language, string> = {
  id: 'Perintah: OK <no> = terima; CEK <lahan> = data; SUDAH = sudah diairi; AIR 10 = diairi 10 mm; STOP = berhenti; MULAI = langganan lagi.',
  en: 'Commands: OK <no> = ack; CEK <field> = data; SUDAH = watered; AIR 10 = watered 10 mm; STOP = unsubscribe; MULAI = subscribe again.',
}

/** The help of a farmer with a valve on one of his fields: the valve commands instead of the details. */
export const VALVE_HELP: Record<Language, string> = {
  id: 'Perintah: OK <no> = terima; CEK <lahan> = data; SUDAH/AIR 10 = sudah diairi; AIRI <lahan> 30 = buka katup 30 menit; TUTUP <lahan>; STOP; MULAI.',
  en: 'Commands: OK <no> = ack; CEK <field> = data; SUDAH/AIR 10 = watered; OPEN <field> 30 = open valve 30 min; CLOSE <field>; STOP; MULAI.',
}

export { HELP }

export interface Reply {
  to: string
  text: string
  /** To a number that is not a registered farmer: the outbox decides whether it is sent (SMS pumping). */
  unregistered?: boolean
}

export function handleCommand(engine: AlertEngine, mo: InboundSms): Reply | undefined {
  const words = mo.text.trim().toUpperCase().split(/\s+/).filter(Boolean)
  const farmer = engine.directory.farmerByPhone(mo.from)
  if (!farmer) {
    return { to: mo.from, text: 'Nomor ini belum terdaftar. Hubungi petugas desa / PPL.', unregistered: true }
  }
  const lang = farmer.language
  const [cmd, ...rest] = words
  const arg = rest.join('')
  const reply = (text: string): Reply => ({ to: farmer.phone, text })
  // a farmer's change by SMS, in the audit log: who (the farmer's id, never the number), `sms`
  const audit = (action: string, target: string, detail?: Record<string, unknown>) =>
    new AuditLog(engine.registry).record(
      { kind: 'farmer', id: farmer.id, address: 'sms' },
      action,
      target,
      detail,
    )
  switch (cmd) {
    case 'OK': {
      const id = Number(arg)
      const alert = Number.isInteger(id) && id > 0 ? engine.getAlert(id) : undefined
      const mine =
        alert?.field !== undefined && engine.directory.subscriptionsOf(farmer.id).includes(alert.field)
      if (!alert || !mine)
        return reply(
          lang === 'id' ? `Peringatan ${arg || '?'} tidak ditemukan.` : `Alert ${arg || '?'} not found.`,
        )
      engine.ack(id, `farmer:${farmer.id}`, mo.receivedAtMs)
      audit('alert.ack', String(id), { rule: alert.rule })
      return reply(
        lang === 'id' ? `Peringatan ${id} diterima. Terima kasih.` : `Alert ${id} acknowledged. Thank you.`,
      )
    }
    case 'CEK':
    case 'CHECK': {
      const fields = engine.directory
        .subscriptionsOf(farmer.id)
        .map((id) => engine.directory.getField(id)!)
        .filter(Boolean)
      const field =
        fields.find((f) => normaliseName(f.name) === arg) ??
        (farmer.village ? engine.directory.findFieldByName(farmer.village, arg) : undefined)
      if (!field) {
        const names = fields.map((f) => f.name).join(', ')
        return reply(
          lang === 'id'
            ? `Lahan ${arg || '?'} tidak ditemukan.${names ? ` Lahan Anda: ${names}` : ''}`
            : `Field ${arg || '?'} not found.${names ? ` Your fields: ${names}` : ''}`,
        )
      }
      return reply(fieldReport(engine, field.id, lang))
    }
    case 'SUDAH':
    case 'DONE':
    case 'AIR':
    case 'WATER': {
      const full = cmd === 'SUDAH' || cmd === 'DONE'
      const [amount, ...name] = full ? ['', ...rest] : rest
      const mm = full ? undefined : Number((amount ?? '').replace(',', '.'))
      if (!full && !(mm !== undefined && Number.isFinite(mm) && mm > 0 && mm <= MAX_REPORTED_MM))
        return reply(
          lang === 'id'
            ? `Tulis jumlah air dalam mm, mis. AIR 10 (1 sampai ${MAX_REPORTED_MM}).`
            : `Give the water in mm, e.g. AIR 10 (1 to ${MAX_REPORTED_MM}).`,
        )
      const fields = wateredFields(engine, farmer.id, name.join(''))
      if (fields.length === 0) {
        const names = engine.directory
          .subscriptionsOf(farmer.id)
          .map((id) => engine.directory.getField(id)?.name)
          .filter(Boolean)
          .join(', ')
        return reply(
          lang === 'id'
            ? `Lahan mana? Tulis mis. ${full ? 'SUDAH' : `AIR ${amount}`} SAWAH1.${names ? ` Lahan Anda: ${names}` : ''}`
            : `Which field? E.g. ${full ? 'SUDAH' : `AIR ${amount}`} SAWAH1.${names ? ` Your fields: ${names}` : ''}`,
        )
      }
      for (const f of fields) engine.advisor.recordWater(f.id, mo.receivedAtMs, mm, `farmer:${farmer.id}`)
      for (const f of fields) audit('field.watered', f.id, { mm })
      // The farmer acted on the dry / water-low alert: no more reminders about it (it still resolves
      // when the probe or tube says so). Without this a probe that reads low after watering (a soil
      // unlike its class) reminded twice a day for the rest of the season (bench/alert-quality).
      for (const f of fields)
        for (const a of engine.listAlerts({ state: 'firing', field: f.id }))
          if (a.rule === 'dry' || a.rule === 'water_low' || a.rule === 'irrigate')
            engine.ack(a.id, `farmer:${farmer.id}`, mo.receivedAtMs)
      const list = fields.map((f) => f.name).join(', ')
      if (full)
        return reply(
          lang === 'id'
            ? `Tercatat: ${list} sudah diairi. Hitungan kebutuhan air mulai lagi dari sekarang.`
            : `Noted: ${list} watered. The water count starts again from now.`,
        )
      return reply(
        lang === 'id'
          ? `Tercatat: ${list} diairi ${formatNumber(mm!, mm! % 1 === 0 ? 0 : 1, lang)} mm.`
          : `Noted: ${list} got ${formatNumber(mm!, mm! % 1 === 0 ? 0 : 1, lang)} mm.`,
      )
    }
    case 'STOP':
    case 'BERHENTI':
      engine.directory.setStopped(farmer.id, true)
      audit('farmer.stop', farmer.id)
      return reply(
        lang === 'id'
          ? 'Anda berhenti berlangganan peringatan. Kirim MULAI untuk berlangganan lagi.'
          : 'You are unsubscribed. Send MULAI to subscribe again.',
      )
    case 'MULAI':
    case 'START':
      engine.directory.setStopped(farmer.id, false)
      audit('farmer.start', farmer.id)
      return reply(lang === 'id' ? 'Anda berlangganan peringatan lagi.' : 'You are subscribed again.')
    case 'AIRI':
    case 'OPEN':
    case 'TUTUP':
    case 'CLOSE':
      return reply(
        valveCommand(engine, farmer, cmd === 'AIRI' || cmd === 'OPEN' ? 'open' : 'close', rest, mo),
      )
    case 'BANTUAN':
    case 'HELP':
    case 'INFO': {
      const valve = engine.directory
        .subscriptionsOf(farmer.id)
        .some((id) => engine.directory.getField(id)?.valve !== undefined)
      return reply((valve ? VALVE_HELP : HELP)[lang])
    }
    default:
      return reply(lang === 'id' ? `Perintah tidak dikenal. ${HELP.id}` : `Unknown command. ${HELP.en}`)
  }
}

/**
 * The fields a SUDAH / AIR reply is about: the named one (of the farmer's), else the farmer's only
 * field, else those of the farmer's fields with a dry or water-low alert firing.
 */
function wateredFields(engine: AlertEngine, farmerId: string, name: string): Field[] {
  const mine = engine.directory
    .subscriptionsOf(farmerId)
    .map((id) => engine.directory.getField(id))
    .filter((f): f is Field => f !== undefined)
  if (name) return mine.filter((f) => normaliseName(f.name) === name)
  if (mine.length === 1) return mine
  const thirsty = new Set(
    engine
      .listAlerts({ state: 'firing' })
      .filter((a) => a.rule === 'dry' || a.rule === 'water_low' || a.rule === 'irrigate')
      .map((a) => a.field),
  )
  return mine.filter((f) => thirsty.has(f.id))
}

/** "SAWAH1: kelembapan tanah 28,4% (07.10); suhu tanah 27,1 C; hujan 24j 3,2 mm; perlu air ~12 mm = 18.000 L" */
export function fieldReport(engine: AlertEngine, fieldId: string, lang: Language): string {
  const field = engine.directory.getField(fieldId)!
  const m = engine.fieldMoisture(field)
  const parts: string[] = []
  if (m) {
    parts.push(
      `${lang === 'id' ? 'kelembapan tanah' : 'soil moisture'} ${formatNumber(m.value, 1, lang)}% (${clockOf(m.timeMs, lang)})`,
    )
  }
  const level = engine.fieldWaterLevel(field)
  if (level) {
    parts.push(
      `${lang === 'id' ? 'air sawah' : 'water'} ${formatNumber(level.value, 0, lang)} cm (${clockOf(level.timeMs, lang)})`,
    )
  }
  const soilTemps = field.devices
    .map((d) => engine.latest(d, 'soil_temperature'))
    .filter((x): x is { value: number; timeMs: number } => x !== undefined)
  if (soilTemps.length > 0) {
    const t = soilTemps.reduce((a, x) => a + x.value, 0) / soilTemps.length
    parts.push(`${lang === 'id' ? 'suhu tanah' : 'soil'} ${formatNumber(t, 1, lang)} C`)
  }
  const now = m?.timeMs ?? Date.now()
  const rain = engine.villageWeather(field.village, now).rainMm
  parts.push(`${lang === 'id' ? 'hujan 24j' : 'rain 24h'} ${formatNumber(rain, 1, lang)} mm`)
  const active = engine.listAlerts({ field: field.id, state: 'firing' })
  for (const a of active.slice(0, 2)) parts.push(`#${a.id} ${LABELS(a.rule, lang, engine.view(a))}`)
  const advice = engine.advisor.currentNeed(field, now)
  if (advice && advice.netNeedMm >= 1) {
    // As in the alert SMS: the litres of the rounded depth, so the two numbers agree.
    const mm = Math.round(advice.netNeedMm)
    const litres = formatNumber(Math.round((mm * field.areaHa * 10_000) / 100) * 100, 0, lang)
    parts.push(
      lang === 'id'
        ? `perlu air ~${formatNumber(mm, 0, lang)} mm = ${litres} L`
        : `water need ~${formatNumber(mm, 0, lang)} mm = ${litres} L`,
    )
  }
  if (parts.length === 0)
    return lang === 'id' ? `${field.name}: belum ada data.` : `${field.name}: no data yet.`
  return `${field.name}: ${parts.join('; ')}`
}
