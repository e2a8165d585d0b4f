import { sign, verify } from 'node:crypto'
import { z } from 'zod'
import { KampungError } from '../../errors.ts'
import { canonicalJson } from './canonical.ts'
import type { KeyRing, PublicKeySource } from './keyring.ts'
import {
  KEY_ID_PATTERN,
  type RecordDraft,
  type VerificationRecord,
  verificationRecordSchema,
} from './record.ts'

/**
 * Domain separation: the signature covers this prefix + the canonical JSON of the record, so a
 * signature made here can never be replayed as one over some other kind of message.
 */
export const SIGNING_CONTEXT = 'smart-kampung/sedekah-oksigen/verification-record/v1\n'

export interface SignedRecord {
  record: VerificationRecord
  /** Ed25519 signature over signingBytes(record), base64url without padding (86 characters). */
  signature: string
  keyId: string
}

export type VerifyReason = 'unknown_key' | 'bad_signature' | 'malformed'

export type VerifyResult =
  | { valid: true; record: VerificationRecord; keyId: string }
  | { valid: false; reason: VerifyReason; detail?: string }

export function signingBytes(record: VerificationRecord): Buffer {
  return Buffer.from(SIGNING_CONTEXT + canonicalJson(record), 'utf8')
}

/** Signs a draft with the key ring's current key (which also goes into the signed record). */
export function signRecord(draft: RecordDraft, keyRing: Pick<KeyRing, 'current'>): SignedRecord {
  const { keyId, privateKey } = keyRing.current()
  const checked = verificationRecordSchema.safeParse({ ...draft, keyId })
  if (!checked.success)
    throw new KampungError('invalid_record', `record: ${describe(checked.error)}`, { retryable: false })
  const record = checked.data
  return { record, signature: sign(null, signingBytes(record), privateKey).toString('base64url'), keyId }
}

const signedSchema = z.strictObject({
  record: z.unknown(),
  signature: z.string().regex(/^[A-Za-z0-9_-]{86}$/),
  keyId: z.string().regex(KEY_ID_PATTERN),
})

function describe(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.join('.') || '$'} ${i.message}`).join('; ')
}

/**
 * Checks an untrusted value (as read from a store, a file or the network) against the published
 * keys. The record comes back only when the signature is valid; never use an invalid one's data.
 */
export function verifySignedRecord(signed: unknown, keys: PublicKeySource): VerifyResult {
  const outer = signedSchema.safeParse(signed)
  if (!outer.success) return { valid: false, reason: 'malformed', detail: describe(outer.error) }
  const { keyId, signature } = outer.data
  const sig = Buffer.from(signature, 'base64url')
  // Node decodes base64 leniently; the unused low bits of the last character must be zero, or two
  // different strings would carry the same signature and an edit to it would go unnoticed.
  if (sig.length !== 64 || sig.toString('base64url') !== signature)
    return { valid: false, reason: 'malformed', detail: 'signature is not canonical base64url of 64 bytes' }
  const inner = verificationRecordSchema.safeParse(outer.data.record)
  if (!inner.success) return { valid: false, reason: 'malformed', detail: describe(inner.error) }
  const record = inner.data
  if (record.keyId !== keyId)
    return { valid: false, reason: 'malformed', detail: 'keyId outside and inside the record differ' }
  const publicKey = keys.publicKey(keyId)
  if (!publicKey) return { valid: false, reason: 'unknown_key', detail: `no published key ${keyId}` }
  // Verify the bytes of the record as received, not of the parsed copy: zod drops nothing from a
  // strict object, but this keeps the check independent of the schema.
  let bytes: Buffer
  try {
    bytes = Buffer.from(SIGNING_CONTEXT + canonicalJson(outer.data.record), 'utf8')
  } catch (err) {
    return { valid: false, reason: 'malformed', detail: (err as Error).message }
  }
  if (!verify(null, bytes, publicKey, sig)) return { valid: false, reason: 'bad_signature' }
  return { valid: true, record, keyId }
}
