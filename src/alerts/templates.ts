import type { Language } from './directory.ts'
import { type AlertView, isRuleId, RULE_TEXTS, type RuleText } from './rules/index.ts'
import { formatNumber, n } from './rules/schema.ts'

/**
 * SMS texts: each rule's own (src/alerts/rules/<family>.ts, Bahasa Indonesia and English per
 * farmer), grouped here. Kept to the GSM-7 alphabet so one message is one 160-character segment:
 * no "±" or "°" (either would switch the whole SMS to UCS-2, 70 characters a segment); "~"
 * (GSM-7 extension table, 2 septets) stands for "about". Numbers in the reader's format:
 * Indonesian "18.000" and "0,15", English "18,000" and "0.15"; Indonesian times 07.00.
 * Words farmers use (DOMAIN.md): "kelembapan tanah", "airi sawah" for a paddy, "sudah normal,
 * tidak kering lagi", "saluran pembuangan".
 */

export type { AlertView }
export { formatNumber }

/** An unknown rule (an old row after a rule was removed) still gets a plain line. */
function texts(rule: string, lang: Language): RuleText {
  if (isRuleId(rule)) return RULE_TEXTS[rule][lang]
  return { label: () => rule, firing: (a) => `${a.fieldName ?? a.village}: ${rule}` }
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
      `${i.alert.fieldName ?? i.alert.device ?? i.alert.village} ${texts(i.alert.rule, lang).label(i.alert)}${value} (#${i.alert.id})`,
    )
  }
  for (const i of resolved) parts.push(shortResolved(i.alert, lang))
  const tail = firing.length > 0 ? `. ${ok} <no>` : ''
  return `${parts.join('; ')}${tail}`
}

function resolvedText(a: AlertView, lang: Language): string {
  const t = texts(a.rule, lang)
  if (t.resolved) return t.resolved(a, lang)
  const where = a.fieldName ?? a.device ?? a.village
  return lang === 'id'
    ? `${where} aman lagi: ${t.label(a)} selesai (#${a.id}).`
    : `${where} all clear: ${t.label(a)} over (#${a.id}).`
}

function shortResolved(a: AlertView, lang: Language): string {
  const where = a.fieldName ?? a.device ?? a.village
  return lang === 'id'
    ? `${where} ${texts(a.rule, lang).label(a)} selesai (#${a.id})`
    : `${where} ${texts(a.rule, lang).label(a)} over (#${a.id})`
}

export function escalationText(a: AlertView, minutes: number, lang: Language): string {
  const body = texts(a.rule, lang).firing(a, lang)
  return lang === 'id'
    ? `PETUGAS #${a.id} blm dibalas ${minutes} mnt: ${body}`
    : `OFFICER #${a.id} unanswered ${minutes} min: ${body}`
}

/** A rule's short label for one alert (CEK replies). */
export const LABELS = (rule: string, lang: Language, a?: AlertView): string =>
  texts(rule, lang).label(a ?? { id: 0, rule, village: '' })
