/** E.164: "+", a country code not starting with 0, at most 15 digits in all (ITU-T E.164 §6). */
const E164 = /^\+[1-9]\d{6,14}$/

export function isE164(to: string): boolean {
  return E164.test(to)
}
