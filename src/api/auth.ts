import type { Request } from 'express'

/** Credentials: HTTP Basic (device id : secret) or `Authorization: Bearer <id>:<secret>`. */
export function credentials(req: Request): { id: string; secret: string } | undefined {
  const header = req.get('authorization') ?? ''
  const [scheme, value] = header.split(' ', 2)
  const kind = scheme?.toLowerCase()
  if (!value || (kind !== 'basic' && kind !== 'bearer')) return undefined
  const text = kind === 'basic' ? Buffer.from(value, 'base64').toString('utf8') : value
  const colon = text.indexOf(':')
  if (colon <= 0) return undefined
  return { id: text.slice(0, colon), secret: text.slice(colon + 1) }
}
