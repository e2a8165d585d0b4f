import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
} from 'node:crypto'
import { chmod, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { KampungError } from '../../errors.ts'
import { getLogger, type Logger } from '../../log.ts'

/** Where a verifier looks up the public key a record names. */
export interface PublicKeySource {
  publicKey(keyId: string): KeyObject | undefined
}

export interface PublicKeyInfo {
  keyId: string
  algorithm: 'Ed25519'
  /** SPKI PEM, as `openssl pkey -pubin` and node:crypto read it. */
  publicKeyPem: string
  /** The same key as a JWK (RFC 8037), for WebCrypto. */
  jwk: { kty: 'OKP'; crv: 'Ed25519'; x: string }
  /** The key new records are signed with. */
  current: boolean
}

export interface KeyRingOptions {
  /** Directory of `<keyId>.pub.pem`, `<keyId>.key.pem` (mode 0600) and `current`. */
  dir: string
  now?: () => number
}

const CURRENT_FILE = 'current'
const PUB_SUFFIX = '.pub.pem'
const KEY_SUFFIX = '.key.pem'

/** keyId = UTC creation date + first 12 hex of SHA-256 over the raw 32-byte public key. */
export function keyIdFor(publicKey: KeyObject, createdAtMs: number): string {
  return `${new Date(createdAtMs).toISOString().slice(0, 10).replaceAll('-', '')}-${fingerprint(publicKey)}`
}

function fingerprint(publicKey: KeyObject): string {
  const raw = Buffer.from(publicKey.export({ format: 'jwk' }).x as string, 'base64url')
  return createHash('sha256').update(raw).digest('hex').slice(0, 12)
}

function info(keyId: string, key: KeyObject, current: boolean): PublicKeyInfo {
  return {
    keyId,
    algorithm: 'Ed25519',
    publicKeyPem: key.export({ type: 'spki', format: 'pem' }).toString(),
    jwk: { kty: 'OKP', crv: 'Ed25519', x: key.export({ format: 'jwk' }).x as string },
    current,
  }
}

const broken = (message: string, cause?: unknown) =>
  new KampungError('keyring_broken', message, { retryable: false, cause })

/**
 * Ed25519 signing keys in a directory. One current key signs; `rotate()` makes a new current key,
 * deletes the old PRIVATE key (nothing may sign with it any more) and keeps every old PUBLIC key,
 * so records signed before the rotation still verify. The constructor only assigns; `start()`
 * loads the directory, or creates it with a first key.
 */
export class KeyRing implements PublicKeySource {
  private readonly dir: string
  private readonly now: () => number
  private readonly log: Logger
  private readonly publics = new Map<string, KeyObject>()
  private currentKey: { keyId: string; privateKey: KeyObject } | undefined

  constructor(options: KeyRingOptions) {
    this.dir = options.dir
    this.now = options.now ?? Date.now
    this.log = getLogger('oksigen.keyring')
  }

  async start(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 })
    for (const name of await readdir(this.dir)) {
      if (!name.endsWith(PUB_SUFFIX)) continue
      const keyId = name.slice(0, -PUB_SUFFIX.length)
      let key: KeyObject
      try {
        key = createPublicKey(await readFile(join(this.dir, name), 'utf8'))
      } catch (err) {
        throw broken(`${join(this.dir, name)}: not a readable public key`, err)
      }
      if (key.asymmetricKeyType !== 'ed25519') throw broken(`${name}: not an Ed25519 key`)
      // A renamed file would let one key answer for another's records.
      if (!keyId.endsWith(`-${fingerprint(key)}`)) throw broken(`${name}: file name does not match the key`)
      this.publics.set(keyId, key)
    }
    const currentId = await readFile(join(this.dir, CURRENT_FILE), 'utf8').then(
      (t) => t.trim(),
      () => undefined,
    )
    if (currentId === undefined) {
      await this.rotate()
      return
    }
    const keyPath = join(this.dir, `${currentId}${KEY_SUFFIX}`)
    let privateKey: KeyObject
    try {
      privateKey = createPrivateKey(await readFile(keyPath, 'utf8'))
    } catch (err) {
      throw broken(`current key ${currentId}: private key ${keyPath} missing or unreadable`, err)
    }
    const publicKey = this.publics.get(currentId)
    if (!publicKey || !createPublicKey(privateKey).equals(publicKey))
      throw broken(`current key ${currentId}: no matching ${currentId}${PUB_SUFFIX}`)
    if (((await stat(keyPath)).mode & 0o077) !== 0)
      this.log.warn({ keyPath }, 'private key is readable by group or others; chmod 600 it')
    this.currentKey = { keyId: currentId, privateKey }
  }

  /** The key to sign with. */
  current(): { keyId: string; privateKey: KeyObject } {
    if (!this.currentKey)
      throw new KampungError('keyring_not_started', 'KeyRing.start() first', { retryable: false })
    return this.currentKey
  }

  publicKey(keyId: string): KeyObject | undefined {
    return this.publics.get(keyId)
  }

  /** Every public key ever used here, current first. */
  publicKeys(): PublicKeyInfo[] {
    const currentId = this.currentKey?.keyId
    return [...this.publics]
      .map(([keyId, key]) => info(keyId, key, keyId === currentId))
      .sort((a, b) => Number(b.current) - Number(a.current) || b.keyId.localeCompare(a.keyId))
  }

  /** A new current key; returns its keyId. Old public keys stay, the old private key is deleted. */
  async rotate(): Promise<string> {
    const { publicKey, privateKey } = generateKeyPairSync('ed25519')
    const keyId = keyIdFor(publicKey, this.now())
    if (this.publics.has(keyId)) throw broken(`key id collision: ${keyId}`)
    const keyPath = join(this.dir, `${keyId}${KEY_SUFFIX}`)
    await writeFile(keyPath, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' })
    await chmod(keyPath, 0o600) // in case the umask widened it
    await writeFile(
      join(this.dir, `${keyId}${PUB_SUFFIX}`),
      publicKey.export({ type: 'spki', format: 'pem' }),
      {
        flag: 'wx',
      },
    )
    // Switch atomically: a crash leaves either the old or the new key current, never neither.
    const tmp = join(this.dir, `${CURRENT_FILE}.tmp`)
    await writeFile(tmp, `${keyId}\n`)
    await rename(tmp, join(this.dir, CURRENT_FILE))
    const previous = this.currentKey?.keyId
    this.publics.set(keyId, publicKey)
    this.currentKey = { keyId, privateKey }
    if (previous) await rm(join(this.dir, `${previous}${KEY_SUFFIX}`), { force: true })
    this.log.info({ keyId, previous }, 'signing key rotated')
    return keyId
  }
}

/** Public keys from elsewhere (e.g. a downloaded keys.json), for checking records offline. */
export class StaticKeySet implements PublicKeySource {
  private readonly keys = new Map<string, KeyObject>()

  constructor(keys: ReadonlyArray<Pick<PublicKeyInfo, 'keyId' | 'publicKeyPem'>>) {
    for (const k of keys) this.keys.set(k.keyId, createPublicKey(k.publicKeyPem))
  }

  publicKey(keyId: string): KeyObject | undefined {
    return this.keys.get(keyId)
  }
}
