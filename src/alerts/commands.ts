import type { Language } from './directory.ts'
import { normaliseName } from './directory.ts'
import type { AlertEngine } from './engine.ts'
import type { InboundSms } from './notify-port.ts'
import { formatNumber, LABELS } from './templates.ts'
import { localClock } from './time.ts'

/**
 * Farmer commands by SMS (playSMS-style keywords), case- and whitespace-insensitive:
 *   OK <id>       acknowledge alert <id> (only an alert on one of the farmer's fields)
 *   CEK <field>   latest readings of that field
 *   STOP          unsubscribe: nothing more is sent (MULAI subscribes again)
 *   BANTUAN       the commands (HELP in English)
 * Anything else gets a short help. A number that is not a registered farmer gets one line saying so.
 */

const HELP: Record<Language, string> = {
  id: 'Perintah: OK <no> = terima peringatan; CEK <lahan> = data terbaru; STOP = berhenti; MULAI = langganan lagi.',
  en: 'Commands: OK <no> = acknowledge; CEK <field> = latest data; STOP = unsubscribe; MULAI = subscribe again.',
}

export interface Reply {
  to: string
  text: string
}

export function handleCommand(engine: AlertEngine, mo: InboundSms): Reply | undefined {
  const words = mo.text.trim().toUpperCase().split(/\s+/).filter(Boolean)
  const farmer = engine.directory.farmerByPhone(mo.from)
  if (!farmer) {
    return { to: mo.from, text: 'Nomor ini belum terdaftar. Hubungi petugas desa / PPL.' }
  }
  const lang = farmer.language
  const [cmd, ...rest] = words
  const arg = rest.join('')
  const reply = (text: string): Reply => ({ to: farmer.phone, text })
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
    case 'STOP':
    case 'BERHENTI':
      engine.directory.setStopped(farmer.id, true)
      return reply(
        lang === 'id'
          ? 'Anda berhenti berlangganan peringatan. Kirim MULAI untuk berlangganan lagi.'
          : 'You are unsubscribed. Send MULAI to subscribe again.',
      )
    case 'MULAI':
    case 'START':
      engine.directory.setStopped(farmer.id, false)
      return reply(lang === 'id' ? 'Anda berlangganan peringatan lagi.' : 'You are subscribed again.')
    case 'BANTUAN':
    case 'HELP':
    case 'INFO':
      return reply(HELP[lang])
    default:
      return reply(lang === 'id' ? `Perintah tidak dikenal. ${HELP.id}` : `Unknown command. ${HELP.en}`)
  }
}

/** "SAWAH1 07:10: lengas 28,4%, suhu tanah 27,1 C; hujan 24j 3,2 mm; perlu air ~12 mm = 18.000 L" */
export function fieldReport(engine: AlertEngine, fieldId: string, lang: Language): string {
  const field = engine.directory.getField(fieldId)!
  const m = engine.fieldMoisture(field)
  const parts: string[] = []
  if (m) {
    parts.push(
      `${lang === 'id' ? 'lengas' : 'moisture'} ${formatNumber(m.value, 1, lang)}% (${localClock(m.timeMs)})`,
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
  for (const a of active.slice(0, 2)) parts.push(`#${a.id} ${LABELS(a.rule, lang)}`)
  const advice = engine.advisor.latestAdvice(field.id)
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
