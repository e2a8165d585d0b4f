import type { Request, Response } from 'express'
import type { Registry } from '../registry/index.ts'
import type { Device } from '../registry/types.ts'

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

/**
 * The registered device (or service account) making the request, or undefined after answering
 * 401 with `message` (what credentials the caller should send).
 */
export async function authenticate(
  registry: Registry,
  req: Request,
  res: Response,
  message: string,
): Promise<Device | undefined> {
  const creds = credentials(req)
  const caller = creds && (await registry.verifySecret(creds.id, creds.secret))
  if (caller) return caller
  res.set('WWW-Authenticate', 'Basic realm="smart-kampung"')
  res.status(401).json({
    error: 'unauthorized',
    message: creds ? `bad id or secret for "${creds.id}"` : message,
  })
  return undefined
}
