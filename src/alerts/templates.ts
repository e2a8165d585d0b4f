import type { Language } from './directory.ts'

/**
 * SMS texts in Bahasa Indonesia (English per farmer). Kept to the GSM-7 alphabet so one message
 * is one 160-character segment where possible: no "±" or "°" (either would switch the whole SMS to
 * UCS-2, 70 characters a segment); "~" (GSM-7 extension table, 2 septets) stands for "about".
 * Numbers in the reader's format: Indonesian "18.000" and "0,15", English "18,000" and "0.15".
 */

export function formatNumber(value: number, decimals: number, lang: Language): string {
  const fixed = Math.abs(value).toFixed(decimals)
  const [int, frac] = fixed.split('.') as [string, string | undefined]
  const group = lang === 'id' ? '.' : ','
  const point = lang === 'id' ? ',' : '.'
  const grouped = int.replace(/\B(?=(\d{3})+(?!\d))/g, group)
  const sign = value < 0 && Number(fixed) !== 0 ? '-' : ''
  return `${sign}${grouped}${frac ? point + frac : ''}`
}

/** One decimal below 10, none above: "18" %, "3,7" V. */
function n(value: number, lang: Language, decimals?: number): string {
  return formatNumber(value, decimals ?? (Math.abs(value) < 10 ? 1 : 0), lang)
}

/**
 * "~12 mm = 18.000 L": the depth rounded to whole mm and the litres of that rounded depth over the
 * field (1 mm on 1 ha = 10 000 L), so the two numbers agree and a farmer can check one with the
 * other; then to 100 L (a farmer measures in jerrycans and pump hours).
 */
/** The irrigation advice of a dry alert (mm, litres, area as text), when there is some worth giving. */
function water(
  a: { needMm?: number; areaHa?: number },
  lang: Language,
): { mm: string; litres: string; area: string } | undefined {
  if (a.needMm === undefined || a.needMm < 1 || a.areaHa === undefined) return undefined
  const mm = Math.max(1, Math.round(a.needMm))
  return {
    mm: formatNumber(mm, 0, lang),
    litres: formatNumber(Math.round((mm * a.areaHa * 10_000) / 100) * 100, 0, lang),
    area: formatNumber(a.areaHa, 2, lang),
  }
}

/** What a template gets about one alert. */
export interface AlertView {
  id: number
  rule: string
  fieldName?: string
  device?: string
  village: string
  value?: number
  threshold?: number
  /** Irrigation advice for dry alerts, when the field has one. */
  needMm?: number
  litres?: number
  areaHa?: number
  /** Local time text (HH:MM) of when it started, for offline alerts. */
  sinceLocal?: string
}

type Texts = { label: string; firing: (a: AlertView, lang: Language) => string }

const ID: Record<string, Texts> = {
  dry: {
    label: 'kering',
    firing: (a, l) => {
      const w = water(a, l)
      const advice = w ? ` Siram ~${w.mm} mm = ${w.litres} L utk ${w.area} ha.` : ' Segera siram.'
      return `${a.fieldName} kering: lengas ${n(a.value!, l, 0)}% (batas ${n(a.threshold!, l, 0)}%).${advice}`
    },
  },
  waterlogged: {
    label: 'tergenang',
    firing: (a, l) =>
      `${a.fieldName} tergenang: lengas ${n(a.value!, l, 0)}% (batas ${n(a.threshold!, l, 0)}%). Buka saluran buang.`,
  },
  moisture_drop: {
    label: 'lengas turun cepat',
    firing: (a, l) =>
      `${a.fieldName} lengas turun cepat ${n(a.value!, l)}% dlm 1 jam. Cek pematang dan sensor.`,
  },
  heavy_rain: {
    label: 'hujan lebat',
    firing: (a, l) =>
      `${a.fieldName} hujan lebat: ${n(a.value!, l, 0)} mm dlm 24 jam. Cek saluran air dan pematang.`,
  },
  heat_stress: {
    label: 'panas',
    firing: (a, l) =>
      `${a.fieldName} panas: suhu ${n(a.value!, l, 1)} C (batas ${n(a.threshold!, l, 0)} C). Siram pagi/sore.`,
  },
  disease_risk: {
    label: 'risiko penyakit',
    firing: (a, l) =>
      `${a.fieldName} risiko penyakit: ${n(a.value!, l, 0)} jam lembab dlm 24 jam. Periksa daun, semprot bila perlu.`,
  },
  device_offline: {
    label: 'sensor mati',
    firing: (a) =>
      `${a.fieldName ?? a.village}: sensor ${a.device} tdk kirim data sejak ${a.sinceLocal}. Cek baterai/alat.`,
  },
  gateway_offline: {
    label: 'gateway mati',
    firing: (a) => `Gateway ${a.device} desa ${a.village} mati sejak ${a.sinceLocal}. Cek listrik/jaringan.`,
  },
  stuck: {
    label: 'sensor macet',
    firing: (a, l) =>
      `${a.fieldName ?? a.village}: sensor ${a.device} macet (nilai tetap ${n(a.value!, l)}). Cek alat.`,
  },
  out_of_range: {
    label: 'sensor tdk wajar',
    firing: (a, l) =>
      `${a.fieldName ?? a.village}: sensor ${a.device} tdk wajar (${n(a.value!, l)}). Cek pemasangan.`,
  },
  battery_low: {
    label: 'baterai lemah',
    firing: (a, l) =>
      `${a.fieldName ?? a.village}: baterai ${a.device} lemah (${n(a.value!, l, 2)} V). Ganti/isi baterai.`,
  },
}

const EN: Record<string, Texts> = {
  dry: {
    label: 'dry',
    firing: (a, l) => {
      const w = water(a, l)
      const advice = w ? ` Irrigate ~${w.mm} mm = ${w.litres} L for ${w.area} ha.` : ' Irrigate soon.'
      return `${a.fieldName} dry: moisture ${n(a.value!, l, 0)}% (limit ${n(a.threshold!, l, 0)}%).${advice}`
    },
  },
  waterlogged: {
    label: 'waterlogged',
    firing: (a, l) =>
      `${a.fieldName} waterlogged: moisture ${n(a.value!, l, 0)}% (limit ${n(a.threshold!, l, 0)}%). Open the drains.`,
  },
  moisture_drop: {
    label: 'moisture falling fast',
    firing: (a, l) => `${a.fieldName} moisture fell ${n(a.value!, l)}% in 1 h. Check bunds and sensor.`,
  },
  heavy_rain: {
    label: 'heavy rain',
    firing: (a, l) => `${a.fieldName} heavy rain: ${n(a.value!, l, 0)} mm in 24 h. Check drains and bunds.`,
  },
  heat_stress: {
    label: 'heat',
    firing: (a, l) =>
      `${a.fieldName} heat: ${n(a.value!, l, 1)} C (limit ${n(a.threshold!, l, 0)} C). Water early/late.`,
  },
  disease_risk: {
    label: 'disease risk',
    firing: (a, l) => `${a.fieldName} disease risk: ${n(a.value!, l, 0)} humid hours in 24 h. Check leaves.`,
  },
  device_offline: {
    label: 'sensor offline',
    firing: (a) =>
      `${a.fieldName ?? a.village}: sensor ${a.device} silent since ${a.sinceLocal}. Check battery.`,
  },
  gateway_offline: {
    label: 'gateway offline',
    firing: (a) => `Gateway ${a.device} (${a.village}) offline since ${a.sinceLocal}. Check power/network.`,
  },
  stuck: {
    label: 'sensor stuck',
    firing: (a, l) => `${a.fieldName ?? a.village}: sensor ${a.device} stuck at ${n(a.value!, l)}. Check it.`,
  },
  out_of_range: {
    label: 'sensor implausible',
    firing: (a, l) =>
      `${a.fieldName ?? a.village}: sensor ${a.device} implausible (${n(a.value!, l)}). Check it.`,
  },
  battery_low: {
    label: 'battery low',
    firing: (a, l) => `${a.fieldName ?? a.village}: ${a.device} battery low (${n(a.value!, l, 2)} V).`,
  },
}

const TEXTS: Record<Language, Record<string, Texts>> = { id: ID, en: EN }

function texts(rule: string, lang: Language): Texts {
  return TEXTS[lang][rule] ?? { label: rule, firing: (a) => `${a.fieldName ?? a.village}: ${rule}` }
}

export interface MessageItem {
  alert: AlertView
  kind: 'firing' | 'repeat' | 'resolved'
}

/**
 * One SMS for a group of findings. One item: the full template. Several: one short clause each,
 * so a farmer with three fields still gets one message.
 */
export function renderGroup(items: readonly MessageItem[], lang: Language): string {
  const firing = items.filter((i) => i.kind !== 'resolved')
  const resolved = items.filter((i) => i.kind === 'resolved')
  const ok = lang === 'id' ? 'Balas OK' : 'Reply OK'
  if (items.length === 1) {
    const [item] = items as [MessageItem]
    const a = item.alert
    if (item.kind === 'resolved') return resolvedText(a, lang)
    const prefix = item.kind === 'repeat' ? (lang === 'id' ? 'Pengingat: ' : 'Reminder: ') : ''
    return `${prefix}${texts(a.rule, lang).firing(a, lang)} ${ok} ${a.id}`
  }
  const parts: string[] = []
  for (const i of firing) {
    const value = i.alert.value === undefined ? '' : ` ${n(i.alert.value, lang)}`
    parts.push(
      `${i.alert.fieldName ?? i.alert.device ?? i.alert.village} ${texts(i.alert.rule, lang).label}${value} (#${i.alert.id})`,
    )
  }
  for (const i of resolved) parts.push(shortResolved(i.alert, lang))
  const tail = firing.length > 0 ? `. ${ok} <no>` : ''
  return `${parts.join('; ')}${tail}`
}

function resolvedText(a: AlertView, lang: Language): string {
  const label = texts(a.rule, lang).label
  const where = a.fieldName ?? a.device ?? a.village
  return lang === 'id'
    ? `${where} aman: ${label} selesai (#${a.id}).`
    : `${where} all clear: ${label} over (#${a.id}).`
}

function shortResolved(a: AlertView, lang: Language): string {
  const where = a.fieldName ?? a.device ?? a.village
  return lang === 'id'
    ? `${where} ${texts(a.rule, lang).label} selesai (#${a.id})`
    : `${where} ${texts(a.rule, lang).label} over (#${a.id})`
}

export function escalationText(a: AlertView, minutes: number, lang: Language): string {
  const body = texts(a.rule, lang).firing(a, lang)
  return lang === 'id'
    ? `PETUGAS: peringatan ${a.id} blm ditanggapi ${minutes} mnt. ${body}`
    : `OFFICER: alert ${a.id} unacknowledged ${minutes} min. ${body}`
}

export const LABELS = (rule: string, lang: Language): string => texts(rule, lang).label
