import { createHash, randomBytes, scrypt, timingSafeEqual } from 'node:crypto'

/** 24 random bytes: 192 bits, 32 base64url characters, fits every MQTT client's password field. */
const SECRET_BYTES = 24
const SALT_BYTES = 16
const HASH_BYTES = 32
/** scrypt cost: Node's defaults (N=2^14, r=8, p=1, 16 MiB); about 50 ms a check on a small server. */
const SCRYPT_PARAMS = { N: 16_384, r: 8, p: 1 } as const
/** Enough for the parameters above with headroom; scrypt needs 128·N·r bytes. */
const SCRYPT_MAXMEM_BYTES = 64 * 1024 * 1024

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

/** `scrypt$N$r$p$salt$hash`, salt and hash base64url: self-describing so the cost can rise later. */
export async function hashSecret(secret: string): Promise<string> {
  const salt = randomBytes(SALT_BYTES)
  const hash = await scryptAsync(secret, salt, SCRYPT_PARAMS)
  const { N, r, p } = SCRYPT_PARAMS
  return ['scrypt', N, r, p, salt.toString('base64url'), hash.toString('base64url')].join('$')
}

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

export function sha256(text: string): Buffer {
  return createHash('sha256').update(text).digest()
}
