import { describe, expect, it } from 'vitest'
import { isE164, isGsm7, smsEncoding } from '../../src/notify/index.ts'

describe('smsEncoding: GSM-7 (160/153) vs UCS-2 (70/67)', () => {
  const cases: Array<[string, string, { coding: 'gsm7' | 'ucs2'; segments: number; units: number }]> = [
    ['empty text is one (empty) part', '', { coding: 'gsm7', segments: 1, units: 0 }],
    ['plain Indonesian', 'Siram sawah 12 mm', { coding: 'gsm7', segments: 1, units: 17 }],
    ['160 GSM-7 characters fit one part', 'a'.repeat(160), { coding: 'gsm7', segments: 1, units: 160 }],
    ['161 need two parts of 153', 'a'.repeat(161), { coding: 'gsm7', segments: 2, units: 161 }],
    ['306 = 2 × 153', 'a'.repeat(306), { coding: 'gsm7', segments: 2, units: 306 }],
    ['307 need a third part', 'a'.repeat(307), { coding: 'gsm7', segments: 3, units: 307 }],
    [
      'extension characters count 2: 80 € = 160 septets',
      '€'.repeat(80),
      { coding: 'gsm7', segments: 1, units: 160 },
    ],
    ['81 € = 162 septets: two parts', '€'.repeat(81), { coding: 'gsm7', segments: 2, units: 162 }],
    ['all extension characters', '^{}\\[~]|€\f', { coding: 'gsm7', segments: 1, units: 20 }],
    [
      'basic-table accents stay GSM-7',
      'àèéìòùÄÖÑÜäöñüÇØøÅåÆæßÉ¡¿§£¥¤',
      { coding: 'gsm7', segments: 1, units: 29 },
    ],
    ['Greek capitals of the basic table', 'ΔΦΓΛΩΠΨΣΘΞ', { coding: 'gsm7', segments: 1, units: 10 }],
    ['á is not GSM-7 (only à is)', 'Pak Ján', { coding: 'ucs2', segments: 1, units: 7 }],
    ['a curly apostrophe forces UCS-2', 'Jum’at', { coding: 'ucs2', segments: 1, units: 6 }],
    ['70 UCS-2 units fit one part', `☔${'a'.repeat(69)}`, { coding: 'ucs2', segments: 1, units: 70 }],
    ['71 need two parts of 67', `☔${'a'.repeat(70)}`, { coding: 'ucs2', segments: 2, units: 71 }],
    ['134 = 2 × 67', `☔${'a'.repeat(133)}`, { coding: 'ucs2', segments: 2, units: 134 }],
    ['an emoji is two UTF-16 units', '🌾', { coding: 'ucs2', segments: 1, units: 2 }],
  ]
  for (const [what, text, expected] of cases) {
    it(what, () => expect(smsEncoding(text)).toEqual(expected))
  }

  it('never splits an escape pair across parts', () => {
    // 152 plain + € (2 septets) = 154: part 1 holds 152, the € moves to part 2.
    expect(smsEncoding(`${'a'.repeat(152)}€${'b'.repeat(10)}`)).toEqual({
      coding: 'gsm7',
      segments: 2,
      units: 164,
    })
    // 305 plain + €: 153 + 152 fit two parts, the € (2) needs a third.
    expect(smsEncoding(`${'a'.repeat(305)}€`).segments).toBe(3)
  })

  it('never splits a surrogate pair across parts', () => {
    // 66 units + an emoji (2) = 68 > 67 for part 1; 71 > 70 so it is multipart.
    expect(smsEncoding(`${'☔'.repeat(66)}🌾${'a'.repeat(3)}`)).toEqual({
      coding: 'ucs2',
      segments: 2,
      units: 71,
    })
  })

  it('isGsm7 agrees', () => {
    expect(isGsm7('OK 123')).toBe(true)
    expect(isGsm7('CEK SAWAH1 ☔')).toBe(false)
  })
})

describe('isE164', () => {
  it.each(['+6281234567890', '+628123456', '+14155552671'])('accepts %s', (n) => expect(isE164(n)).toBe(true))
  it.each(['081234567890', '6281234567890', '+0812345678', '+62 812 3456', '+6281234567890123', ''])(
    'refuses "%s"',
    (n) => expect(isE164(n)).toBe(false),
  )
})
