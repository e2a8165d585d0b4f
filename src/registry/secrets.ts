import { createHash, randomBytes, scrypt, timingSafeEqual } from 'node:crypto'

/** 24 random bytes: 192 bits, 32 base64url characters, fits every MQTT client's password field. */
const SECRET_BYTES = 24
const SALT_BYTES = 16
const HASH_BYTES = 32
/**
 * scrypt cost N=2^10, r=8, p=1 (1 MiB, ~5 ms a check on this 2-core machine). A slow hash protects guessable
 * passwords; these secrets are 192 random bits, which no hash cost makes easier or harder to guess,
 * while every device's reconnect after a broker restart pays it: at Node's default N=2^14
 * (~100 ms here) 2 000 devices cost the broker over 3 minutes of CPU, at 2^10 about 10 s. The cost is stored in
 * each hash, so raising it later keeps old hashes valid.
 */
const SCRYPT_PARAMS = { N: 1024, r: 8, p: 1 } as const
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

/**
 * `scrypt$N$r$p$salt$hash`, salt and hash base64url: self-describing so the cost can rise later.
 * `params` lets people's passwords (guessable, unlike device secrets) pay a higher cost.
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
