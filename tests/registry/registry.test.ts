import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import Database from 'better-sqlite3'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { KampungError } from '../../src/errors.ts'
import { hashSecret, type NewDevice, Registry } from '../../src/registry/index.ts'

const soil: NewDevice = {
  id: 'soil-1',
  village: 'desa-a',
  kind: 'soil',
  format: 'json',
  lat: -8.2,
  lon: 114.3,
}

async function rejection(p: Promise<unknown> | (() => unknown)): Promise<KampungError> {
  try {
    await (typeof p === 'function' ? p() : p)
  } catch (err) {
    expect(err).toBeInstanceOf(KampungError)
    return err as KampungError
  }
  throw new Error('expected a rejection')
}

describe('Registry', () => {
  let dir: string
  let dbPath: string
  let registry: Registry

  beforeEach(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'kampung-registry-'))
    dbPath = path.join(dir, 'registry.db')
    registry = new Registry({ path: dbPath, schemas: [] })
    await registry.start()
    registry.addVillage({ id: 'desa-a', name: 'Desa A' })
  })

  afterEach(async () => {
    await registry.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  it('migrates the schema once and records its version', async () => {
    expect(registry.schemaVersions()).toEqual({ registry: 1 })
    await registry.stop()
    await registry.start() // second start: nothing left to migrate, data kept
    expect(registry.schemaVersions()).toEqual({ registry: 1 })
    expect(registry.listVillages()).toEqual([{ id: 'desa-a', name: 'Desa A' }])
  })

  it('adds villages idempotently (an upsert renames)', () => {
    registry.addVillage({ id: 'desa-a', name: 'Desa A Baru' })
    registry.addVillage({ id: 'desa-b', name: 'Desa B' })
    expect(registry.listVillages()).toEqual([
      { id: 'desa-a', name: 'Desa A Baru' },
      { id: 'desa-b', name: 'Desa B' },
    ])
  })

  it('adds, gets and lists devices; the secret is shown once and verifies', async () => {
    const { device, secret } = await registry.addDevice({
      ...soil,
      channels: { '1': { quantity: 'soil_moisture', sensor: 'soil1' } },
    })
    expect(secret).toMatch(/^[A-Za-z0-9_-]{32}$/)
    expect(device).toMatchObject({ id: 'soil-1', village: 'desa-a', kind: 'soil', lat: -8.2, lon: 114.3 })
    expect(device.channels).toEqual({ '1': { quantity: 'soil_moisture', sensor: 'soil1' } })
    expect(registry.getDevice('soil-1')).toEqual(device)
    expect(registry.getDevice('nope')).toBeUndefined()

    registry.addVillage({ id: 'desa-b', name: 'Desa B' })
    await registry.addDevice({ ...soil, id: 'wx-1', village: 'desa-b', kind: 'weather' })
    expect(registry.listDevices().map((d) => d.id)).toEqual(['soil-1', 'wx-1'])
    expect(registry.listDevices({ village: 'desa-b' }).map((d) => d.id)).toEqual(['wx-1'])

    expect(await registry.verifySecret('soil-1', secret)).toEqual(device)
  })

  it('stores only a salted HMAC-SHA-256 of the secret, never the secret', async () => {
    const { secret } = await registry.addDevice(soil)
    await registry.stop()
    const db = new Database(dbPath, { readonly: true })
    const row = db.prepare('SELECT secret_hash FROM devices WHERE id = ?').get('soil-1') as {
      secret_hash: string
    }
    db.close()
    expect(row.secret_hash).toMatch(/^hmac-sha256\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/)
    expect(row.secret_hash).not.toContain(secret)
    await registry.start()
  })

  it('refuses a wrong secret, an unknown device and another device’s secret', async () => {
    const { secret } = await registry.addDevice(soil)
    const other = await registry.addDevice({ ...soil, id: 'soil-2' })
    expect(await registry.verifySecret('soil-1', `${secret}x`)).toBeUndefined()
    expect(await registry.verifySecret('soil-1', '')).toBeUndefined()
    expect(await registry.verifySecret('soil-1', other.secret)).toBeUndefined()
    expect(await registry.verifySecret('ghost', secret)).toBeUndefined()
    // a success changes nothing for the next wrong secret
    expect(await registry.verifySecret('soil-1', secret)).toBeDefined()
    expect(await registry.verifySecret('soil-1', `${secret}x`)).toBeUndefined()
    expect(await registry.verifySecret('soil-1', secret.slice(0, -1))).toBeUndefined()
  })

  it('rotating a secret invalidates the old one at once', async () => {
    const { secret: old } = await registry.addDevice(soil)
    expect(await registry.verifySecret('soil-1', old)).toBeDefined()
    const fresh = await registry.rotateSecret('soil-1')
    expect(fresh).not.toBe(old)
    expect(await registry.verifySecret('soil-1', old)).toBeUndefined()
    expect((await registry.verifySecret('soil-1', fresh))?.id).toBe('soil-1')
    expect((await rejection(registry.rotateSecret('ghost'))).code).toBe('unknown_device')
  })

  it('removes devices; their secret stops working', async () => {
    const { secret } = await registry.addDevice(soil)
    await registry.verifySecret('soil-1', secret)
    expect(registry.removeDevice('soil-1')).toBe(true)
    expect(registry.removeDevice('soil-1')).toBe(false)
    expect(await registry.verifySecret('soil-1', secret)).toBeUndefined()
  })

  it('keeps a legacy scrypt hash working and rewrites it as HMAC on the first success only', async () => {
    const { device } = await registry.addDevice(soil)
    const secret = 'legacy-secret-from-an-old-registry'
    const legacy = await hashSecret(secret) // what addDevice stored before (scrypt N=1024)
    expect(legacy).toMatch(/^scrypt\$1024\$8\$1\$/)
    const stored = () =>
      (
        registry.database().prepare('SELECT secret_hash FROM devices WHERE id = ?').get('soil-1') as {
          secret_hash: string
        }
      ).secret_hash
    registry.database().prepare('UPDATE devices SET secret_hash = ? WHERE id = ?').run(legacy, 'soil-1')
    // a wrong secret is refused exactly as before, and leaves the hash alone
    expect(await registry.verifySecret('soil-1', `${secret}x`)).toBeUndefined()
    expect(stored()).toBe(legacy)
    expect(await registry.verifySecret('soil-1', secret)).toEqual(device)
    expect(stored()).toMatch(/^hmac-sha256\$/)
    expect(await registry.verifySecret('soil-1', secret)).toEqual(device)
    expect(await registry.verifySecret('soil-1', `${secret}x`)).toBeUndefined()
  })

  it('does not upgrade a legacy hash rotated while scrypt ran', async () => {
    await registry.addDevice(soil)
    const secret = 'legacy-secret-from-an-old-registry'
    registry
      .database()
      .prepare('UPDATE devices SET secret_hash = ? WHERE id = ?')
      .run(await hashSecret(secret), 'soil-1')
    const checking = registry.verifySecret('soil-1', secret)
    const fresh = await registry.rotateSecret('soil-1') // lands while scrypt runs on the thread pool
    expect(await checking).toBeUndefined()
    expect(await registry.verifySecret('soil-1', secret)).toBeUndefined()
    expect(await registry.verifySecret('soil-1', fresh)).toBeDefined()
  })

  it('requires the village to exist', async () => {
    const err = await rejection(registry.addDevice({ ...soil, village: 'desa-z' }))
    expect(err.code).toBe('unknown_village')
    expect(err.retryable).toBe(false)
    expect(err.message).toContain('village "desa-z" does not exist')
  })

  it('refuses a duplicate device id', async () => {
    await registry.addDevice(soil)
    const err = await rejection(registry.addDevice(soil))
    expect(err.code).toBe('device_exists')
    expect(err.retryable).toBe(false)
  })

  it('refuses bad ids with a message naming the allowed alphabet', async () => {
    for (const id of ['Soil-1', 'soil 1', '-soil', 'soil/1', '', 'x'.repeat(64), 'kebun+1']) {
      const err = await rejection(registry.addDevice({ ...soil, id }))
      expect(err.code).toBe('invalid_id')
      expect(err.message).toContain(`device id ${JSON.stringify(id)} is not valid`)
      expect(err.message).toContain("a-z, 0-9, '_' and '-'")
    }
    const err = await rejection(() => registry.addVillage({ id: 'Desa A', name: 'x' }))
    expect(err.message).toContain('village id "Desa A" is not valid')
  })

  it('refuses bad kinds, formats, channels and coordinates', async () => {
    const cases: Array<[Partial<NewDevice> | Record<string, unknown>, string]> = [
      [{ kind: 'robot' }, 'kind "robot" is not one of'],
      [{ format: 'xml' }, 'format "xml" is not one of'],
      [{ channels: { '1': { quantity: 'vibes' } } }, 'channels.1.quantity "vibes" is not a known quantity'],
      [{ lat: 91 }, 'lat 91 must be a number from -90 to 90'],
      [{ lon: Number.NaN }, 'lon null must be a number'],
    ]
    for (const [patch, message] of cases) {
      const err = await rejection(registry.addDevice({ ...soil, ...patch } as NewDevice))
      expect(err.code).toBe('invalid_device')
      expect(err.message).toContain(message)
    }
    expect(registry.listDevices()).toEqual([])
  })

  it('says clearly when used before start()', async () => {
    const idle = new Registry({ path: path.join(dir, 'idle.db'), schemas: [] })
    expect((await rejection(() => idle.listVillages())).code).toBe('not_started')
  })
})

describe('secret hashes', () => {
  it('verifies a hash stored with another scrypt cost (the cost is read from the hash)', async () => {
    const { scryptSync } = await import('node:crypto')
    const { verifyHash } = await import('../../src/registry/secrets.ts')
    const salt = Buffer.from('0123456789abcdef')
    const hash = scryptSync('the-secret', salt, 32, { N: 16_384, r: 8, p: 1, maxmem: 64 * 1024 * 1024 })
    const stored = ['scrypt', 16_384, 8, 1, salt.toString('base64url'), hash.toString('base64url')].join('$')
    expect(await verifyHash('the-secret', stored)).toBe(true)
    expect(await verifyHash('another-secret', stored)).toBe(false)
  })
})
