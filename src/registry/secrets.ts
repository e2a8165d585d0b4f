import { createHmac, randomBytes, scrypt, timingSafeEqual } from 'node:crypto'

/** 24 random bytes: 192 bits, 32 base64url characters, fits every MQTT client's password field. */
const SECRET_BYTES = 24
const SALT_BYTES = 16
const HASH_BYTES = 32
/**
 * scrypt cost N=2^10, r=8, p=1 (1 MiB, ~5 ms a check on this 2-core machine): what device secrets
 * were hashed with before `hmac-sha256`, and still the default of `hashSecret` (people's
 * passwords pass a higher cost). The cost is stored in each hash, so old hashes stay valid.
 */
const SCRYPT_PARAMS = { N: 1024, r: 8, p: 1 } as const
/** Enough for the parameters above with headroom; scrypt needs 128·N·r bytes. */
const SCRYPT_MAXMEM_BYTES = 64 * 1024 * 1024
const HMAC_PREFIX = 'hmac-sha256'

export function newSecret(): string {
  return randomBytes(SECRET_BYTES).toString('base64url')
}

function scryptAsync(
  secret: string,
  salt: Buffer,
  params: { N: number; r: number; p: number },
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(secret, salt, HASH_BYTES, { ...params, maxmem: SCRYPT_MAXMEM_BYTES }, (err, key) =>
      err ? reject(err) : resolve(key),
    )
  })
}

/**
 * `scrypt$N$r$p$salt$hash`, salt and hash base64url: self-describing so the cost can rise later.
 * For people's passwords (guessable): `params` sets their cost. Device secrets use
 * `hashDeviceSecret`.
 */
export async function hashSecret(
  secret: string,
  params: { N: number; r: number; p: number } = SCRYPT_PARAMS,
): Promise<string> {
  const salt = randomBytes(SALT_BYTES)
  const hash = await scryptAsync(secret, salt, params)
  const { N, r, p } = params
  return ['scrypt', N, r, p, salt.toString('base64url'), hash.toString('base64url')].join('$')
}

/** Checks a password against a `scrypt$…` hash (and nothing else: a fast hash is never a password's). */
export async function verifyHash(secret: string, stored: string): Promise<boolean> {
  const parts = stored.split('$')
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false
  const [N, r, p] = parts.slice(1, 4).map(Number) as [number, number, number]
  const salt = Buffer.from(parts[4]!, 'base64url')
  const expected = Buffer.from(parts[5]!, 'base64url')
  if (expected.length !== HASH_BYTES) return false
  const actual = await scryptAsync(secret, salt, { N, r, p })
  return timingSafeEqual(actual, expected)
}

function hmac(salt: Buffer, secret: string): Buffer {
  return createHmac('sha256', salt).update(secret).digest()
}

/**
 * `hmac-sha256$salt$hash`: HMAC-SHA-256 keyed with a per-device random salt, ~2 µs to check
 * (scrypt: ~5 ms). A device secret is 192 random bits: guessing it takes ~2^191 tries whatever
 * each costs, so a slow hash adds nothing against guessing and only makes every reconnect of
 * every node expensive. The salt keeps equal secrets from having equal hashes and rules out
 * precomputed tables; the hash, leaked with the registry file, still does not give the secret
 * (preimage resistance). See src/registry/README.md.
 */
export function hashDeviceSecret(secret: string): string {
  const salt = randomBytes(SALT_BYTES)
  return [HMAC_PREFIX, salt.toString('base64url'), hmac(salt, secret).toString('base64url')].join('$')
}

/** A device hash from before `hmac-sha256` (`scrypt$…`): checked with `verifyHash`, then rewritten. */
export function isLegacyDeviceHash(stored: string): boolean {
  return stored.startsWith('scrypt$')
}

/**
 * A device secret against its `hmac-sha256$…` hash, in constant time (synchronous: no other code
 * runs between reading the row and deciding). False for anything else stored.
 */
export function verifyDeviceHash(secret: string, stored: string): boolean {
  const parts = stored.split('$')
  if (parts.length !== 3 || parts[0] !== HMAC_PREFIX) return false
  const expected = Buffer.from(parts[2]!, 'base64url')
  const actual = hmac(Buffer.from(parts[1]!, 'base64url'), secret)
  return expected.length === HASH_BYTES && timingSafeEqual(actual, expected)
}

/**
 * A hash no secret matches in practice (random salt and hash), for unknown ids: they cost the same
 * HMAC and compare as a known id with a wrong secret, so timing does not tell them apart.
 */
export const DUMMY_DEVICE_HASH = [
  HMAC_PREFIX,
  randomBytes(SALT_BYTES).toString('base64url'),
  randomBytes(HASH_BYTES).toString('base64url'),
].join('$')
