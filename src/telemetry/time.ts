/**
 * ISO-8601 date-times as network servers and gateways write them. A zone (`Z` or `±hh:mm`) is
 * required: without one `Date.parse` would read the server's local time, which is a guess.
 * Any number of fraction digits is accepted (TTS writes nanoseconds); the result is rounded to ms.
 */
const ISO_DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?(?:([Zz])|([+-])(\d{2}):?(\d{2}))$/

const MS_PER_MINUTE = 60_000

/** Milliseconds since the epoch, or undefined when `text` is not a zoned ISO-8601 date-time. */
export function parseIsoTime(text: string): number | undefined {
  const m = ISO_DATE_TIME.exec(text.trim())
  if (!m) return undefined
  const [, y, mo, d, h, mi, s, frac, zulu, sign, oh, om] = m
  const year = Number(y)
  const month = Number(mo)
  const day = Number(d)
  const hour = Number(h)
  const minute = Number(mi)
  const second = s === undefined ? 0 : Number(s)
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 60) return undefined
  const wholeMs = Date.UTC(year, month - 1, day, hour, minute, Math.min(second, 59))
  // Date.UTC rolls 31 February over into March; a real date survives the round trip.
  if (new Date(wholeMs).getUTCDate() !== day) return undefined
  const fractionMs = frac === undefined ? 0 : Number(`0.${frac}`) * 1000
  const offsetMs = zulu ? 0 : (sign === '-' ? -1 : 1) * (Number(oh) * 60 + Number(om)) * MS_PER_MINUTE
  return Math.round(wholeMs + fractionMs - offsetMs)
}

export function formatTime(timeMs: number): string {
  return Number.isFinite(timeMs) && Math.abs(timeMs) <= 8.64e15
    ? new Date(timeMs).toISOString()
    : String(timeMs)
}
