import type { SmsCoding } from './types.ts'

/**
 * GSM 03.38 default alphabet (3GPP TS 23.038 §6.2.1), one septet each. Hand-written on purpose:
 * the table is small, and billing depends on it being exactly right.
 */
const GSM7_BASIC = new Set(
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà',
)
/** The extension table: ESC + one septet, so each counts 2 units. */
const GSM7_EXTENSION = new Set('\f^{}\\[~]|€')

export const SMS_LIMITS = {
  gsm7: { single: 160, part: 153 },
  ucs2: { single: 70, part: 67 },
} as const

export interface SmsEncoding {
  coding: SmsCoding
  /** Parts billed (every part of a concatenated SMS is billed). */
  segments: number
  /** Septets for GSM-7 (extension characters count 2), UTF-16 code units for UCS-2. */
  units: number
}

/** Units per character, in order; undefined when the text needs UCS-2. */
function gsm7Units(text: string): number[] | undefined {
  const out: number[] = []
  for (const ch of text) {
    if (GSM7_BASIC.has(ch)) out.push(1)
    else if (GSM7_EXTENSION.has(ch)) out.push(2)
    else return undefined
  }
  return out
}

/**
 * Parts needed when a character may not be split across parts: an escape pair (GSM-7) or a
 * surrogate pair (UCS-2) that does not fit moves to the next part, as phones and SMSCs do.
 */
function countParts(units: number[], partSize: number): number {
  let parts = 1
  let used = 0
  for (const u of units) {
    if (used + u > partSize) {
      parts++
      used = 0
    }
    used += u
  }
  return parts
}

/** GSM-7 when every character is in the default alphabet or its extension, else UCS-2; parts billed. */
export function smsEncoding(text: string): SmsEncoding {
  const gsm = gsm7Units(text)
  const coding: SmsCoding = gsm ? 'gsm7' : 'ucs2'
  const perChar = gsm ?? Array.from(text, (ch) => ch.length)
  const units = perChar.reduce((a, b) => a + b, 0)
  const limits = SMS_LIMITS[coding]
  const segments = units <= limits.single ? 1 : countParts(perChar, limits.part)
  return { coding, segments, units }
}

/** True when every character of `text` has a GSM-7 encoding. */
export function isGsm7(text: string): boolean {
  return gsm7Units(text) !== undefined
}
