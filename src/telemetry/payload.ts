import { Buffer } from 'node:buffer'
import type { Collector } from './validate.ts'

export type Payload = Buffer | Uint8Array | string

const HEX = /^[0-9a-fA-F]+$/
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/
const BASE64URL = /^[A-Za-z0-9_-]*={0,2}$/

export function toBuffer(payload: Buffer | Uint8Array): Buffer {
  return Buffer.isBuffer(payload)
    ? payload
    : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength)
}

/** Payload bytes as UTF-8 text, without a byte-order mark. */
export function toText(payload: Payload): string {
  const text = typeof payload === 'string' ? payload : toBuffer(payload).toString('utf8')
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text
}

/** Strict base64 (standard or URL-safe alphabet); undefined when `text` is not base64. */
export function decodeBase64(text: string): Buffer | undefined {
  const compact = text.replace(/\s+/g, '')
  if (compact.length % 4 === 1) return undefined
  if (BASE64.test(compact)) return Buffer.from(compact, 'base64')
  if (BASE64URL.test(compact)) return Buffer.from(compact, 'base64url')
  return undefined
}

/**
 * Binary payload bytes. A string is hex when it is only hex digits and of even length, otherwise
 * base64; so a base64 text made only of hex digits is read as hex (both forms are common on MQTT).
 */
export function toBytes(payload: Payload): Buffer | undefined {
  if (typeof payload !== 'string') return toBuffer(payload)
  const text = payload.trim()
  if (HEX.test(text) && text.length % 2 === 0) return Buffer.from(text, 'hex')
  return decodeBase64(text)
}

/** JSON.parse that reports instead of throwing. */
export function parseJson(payload: Payload, out: Collector): { ok: true; value: unknown } | { ok: false } {
  const text = toText(payload)
  try {
    return { ok: true, value: JSON.parse(text) }
  } catch (err) {
    const detail = err instanceof Error ? err.message : String(err)
    out.error('$', 'malformed', `payload is not valid JSON (${detail}); expected a JSON document`)
    return { ok: false }
  }
}
