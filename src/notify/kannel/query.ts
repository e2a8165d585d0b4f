/**
 * Kannel's get-url puts the message bytes in the query as they are: a UCS-2 MO arrives as
 * percent-encoded UTF-16BE (`%00B%00u`), which a UTF-8 query parser would mangle. So the query is
 * split here into raw bytes, and the text decoded by the charset Kannel names (%C).
 */
export function parseRawQuery(url: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>()
  const qs = url.includes('?') ? url.slice(url.indexOf('?') + 1) : ''
  for (const part of qs.split('&')) {
    if (!part) continue
    const eq = part.indexOf('=')
    const name = percentBytes(eq < 0 ? part : part.slice(0, eq)).toString('utf8')
    if (!out.has(name)) out.set(name, percentBytes(eq < 0 ? '' : part.slice(eq + 1)))
  }
  return out
}

/** application/x-www-form-urlencoded value to bytes: `+` is a space, `%XX` one byte. */
function percentBytes(s: string): Buffer {
  const bytes: number[] = []
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!
    if (c === '+') bytes.push(0x20)
    else if (c === '%' && /^[0-9a-fA-F]{2}$/.test(s.slice(i + 1, i + 3))) {
      bytes.push(Number.parseInt(s.slice(i + 1, i + 3), 16))
      i += 2
    } else {
      for (const b of Buffer.from(c, 'utf8')) bytes.push(b)
    }
  }
  return Buffer.from(bytes)
}

/** Kannel coding 2 is UCS-2 (UTF-16BE); otherwise the charset it names, UTF-8 when none. */
export function decodeMoText(raw: Buffer, coding?: string, charset?: string): string {
  const label = coding === '2' ? 'utf-16be' : (charset || 'utf-8').toLowerCase()
  try {
    return new TextDecoder(label).decode(raw)
  } catch {
    return raw.toString('utf8') // an unknown charset label: best effort rather than losing the reply
  }
}
