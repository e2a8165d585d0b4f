import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { KampungError } from '../../src/errors.ts'
import { estimateBiomass } from '../../src/oksigen/biomass.ts'
import {
  buildRecordDraft,
  canonicalJson,
  KeyRing,
  MAX_DAILY_POINTS,
  SIGNING_CONTEXT,
  type SignedRecord,
  StaticKeySet,
  signingBytes,
  signRecord,
  verifySignedRecord,
} from '../../src/oksigen/certificate/index.ts'
import { draft, recordInput, T0 } from './certificate-fixtures.ts'

let dir: string
let ring: KeyRing
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'oksigen-keys-'))
  ring = new KeyRing({ dir: join(dir, 'keys'), now: () => T0 })
  await ring.start()
})
afterEach(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('canonicalJson', () => {
  it('sorts keys at every depth and writes no whitespace', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, 'x', null, true], c: -0.5 }, u: undefined })).toBe(
      '{"a":{"c":-0.5,"d":[1,"x",null,true]},"b":1}',
    )
  })
  it('refuses what JSON cannot carry faithfully', () => {
    expect(() => canonicalJson({ a: Number.NaN })).toThrow(/\$\.a/)
    expect(() => canonicalJson([undefined])).toThrow(/undefined/)
    expect(() => canonicalJson({ d: new Date(0) })).toThrow(/plain objects/)
  })
})

describe('buildRecordDraft', () => {
  it('rounds the location to 3 decimals (or coarser) and holds no applicant data', () => {
    const d = draft()
    expect(d.location).toEqual({ lat: -8.22, lon: 114.369 })
    expect(draft({ locationDecimals: 2 }).location).toEqual({ lat: -8.22, lon: 114.37 })
    expect(draft({ locationDecimals: 6 }).location).toEqual({ lat: -8.22, lon: 114.369 }) // never finer
    const text = canonicalJson(d)
    expect(text).not.toMatch(/applicant|name|phone|nik|address/i)
    expect(Object.keys(d).sort()).toEqual(
      [
        'decision',
        'estimate',
        'evidence',
        'id',
        'issuedAtMs',
        'location',
        'plantedOn',
        'species',
        'treeId',
        'version',
      ].sort(),
    )
  })

  it('carries the O2 estimate, or null with the note when D < 5 cm', () => {
    expect(draft().estimate).toMatchObject({ inFittedRange: true, method: 'chave2014-eq4' })
    expect(draft().estimate.o2Kg).toBeGreaterThan(0)
    const small = { diameterCm: 3.1, heightM: 3, woodDensity: 0.3, heightSource: 'allometry' as const }
    const d = draft({ biomass: estimateBiomass(small), biomassInput: small })
    expect(d.estimate).toMatchObject({ inFittedRange: false, agbKg: null, o2Kg: null })
    expect(d.estimate.note).toMatch(/outside the fitted range/i)
  })

  it('thins a long daily series for the chart, keeping first and last day', () => {
    const input = recordInput()
    const long = Array.from({ length: 1000 }, (_, i) => ({
      day: `2026-01-${String((i % 28) + 1).padStart(2, '0')}`,
      groUm: i,
      twdUm: 0,
    }))
    const d = buildRecordDraft({ ...input, evidence: { ...input.evidence, daily: long } })
    expect(d.evidence.daily).toHaveLength(MAX_DAILY_POINTS)
    expect(d.evidence.daily![0]!.groUm).toBe(0)
    expect(d.evidence.daily!.at(-1)!.groUm).toBe(999)
  })

  it('rejects a bad draft with every problem and its path', () => {
    const bad = () => draft({ treeId: 'bad id!', plantedOn: '15/01/2025' })
    expect(bad).toThrow(KampungError)
    expect(bad).toThrow(/treeId.*plantedOn/s)
  })
})

describe('sign and verify', () => {
  it('round-trips: a signed record verifies with the ring and with its published keys', () => {
    const signed = signRecord(draft(), ring)
    expect(signed.keyId).toBe(ring.current().keyId)
    expect(signed.record.keyId).toBe(signed.keyId)
    expect(signed.signature).toMatch(/^[A-Za-z0-9_-]{86}$/)
    const result = verifySignedRecord(signed, ring)
    expect(result).toMatchObject({ valid: true, keyId: signed.keyId })
    // Offline: only the published public keys, after a trip through JSON.
    const published = JSON.parse(JSON.stringify({ keys: ring.publicKeys() }))
    const copy = JSON.parse(JSON.stringify(signed))
    expect(verifySignedRecord(copy, new StaticKeySet(published.keys)).valid).toBe(true)
    expect(signingBytes(signed.record).toString('utf8').startsWith(SIGNING_CONTEXT)).toBe(true)
  })

  it('is invalid after ANY single byte of the stored serialisation changes', () => {
    const signed = signRecord(draft({ evidence: { ...recordInput().evidence, daily: undefined } }), ring)
    const bytes = Buffer.from(canonicalJson(signed), 'utf8')
    const reasons = new Set<string>()
    for (let i = 0; i < bytes.length; i++) {
      const changed = Buffer.from(bytes)
      changed[i] = changed[i]! ^ 0x01
      let parsed: unknown
      try {
        parsed = JSON.parse(changed.toString('utf8'))
      } catch {
        reasons.add('unparseable')
        continue // a store hands unparseable text back as a string: see the store tests
      }
      const result = verifySignedRecord(parsed, ring)
      expect(result.valid, `byte ${i} (${String.fromCharCode(bytes[i]!)})`).toBe(false)
      if (!result.valid) reasons.add(result.reason)
    }
    // A changed keyId differs from the one inside the record, so it is 'malformed', not 'unknown_key'.
    expect(reasons).toEqual(new Set(['unparseable', 'malformed', 'bad_signature']))
  })

  it('is invalid when a value is changed and re-serialised cleanly', () => {
    const signed = signRecord(draft(), ring)
    const forged = structuredClone(signed) as SignedRecord
    forged.record.evidence.diameterIncrementMm = 50
    expect(verifySignedRecord(forged, ring)).toEqual({ valid: false, reason: 'bad_signature' })
  })

  it('is invalid with an unknown key', async () => {
    const other = new KeyRing({ dir: join(dir, 'other') })
    await other.start()
    const signed = signRecord(draft(), other)
    expect(verifySignedRecord(signed, ring)).toMatchObject({ valid: false, reason: 'unknown_key' })
  })

  it('is malformed when the outer and inner keyId differ, or for garbage', () => {
    const signed = signRecord(draft(), ring)
    expect(verifySignedRecord({ ...signed, keyId: '20250101-000000000000' }, ring)).toMatchObject({
      valid: false,
      reason: 'malformed',
    })
    for (const junk of [null, 'text', 42, {}, { record: {}, signature: 'x', keyId: 'k' }])
      expect(verifySignedRecord(junk, ring)).toMatchObject({ valid: false, reason: 'malformed' })
  })
})

describe('KeyRing', () => {
  it('stores keys as PEM files, the private one mode 0600, and reloads them', async () => {
    const { keyId } = ring.current()
    expect(keyId).toMatch(/^20250115-[0-9a-f]{12}$/)
    const keysDir = join(dir, 'keys')
    expect((await readdir(keysDir)).sort()).toEqual(
      ['current', `${keyId}.key.pem`, `${keyId}.pub.pem`].sort(),
    )
    expect((await stat(join(keysDir, `${keyId}.key.pem`))).mode & 0o777).toBe(0o600)
    expect(await readFile(join(keysDir, `${keyId}.key.pem`), 'utf8')).toMatch(/BEGIN PRIVATE KEY/)
    const signed = signRecord(draft(), ring)
    const again = new KeyRing({ dir: keysDir })
    await again.start()
    expect(again.current().keyId).toBe(keyId)
    expect(verifySignedRecord(signed, again).valid).toBe(true)
  })

  it('rotates: old records still verify, new ones use the new key, the old private key is gone', async () => {
    const before = signRecord(draft(), ring)
    const oldId = ring.current().keyId
    const newId = await ring.rotate()
    expect(newId).not.toBe(oldId)
    const after = signRecord(draft(), ring)
    expect(after.keyId).toBe(newId)
    expect(verifySignedRecord(before, ring)).toMatchObject({ valid: true, keyId: oldId })
    expect(verifySignedRecord(after, ring)).toMatchObject({ valid: true, keyId: newId })
    expect(ring.publicKeys().map((k) => [k.keyId, k.current])).toEqual([
      [newId, true],
      [oldId, false],
    ])
    const files = await readdir(join(dir, 'keys'))
    expect(files).not.toContain(`${oldId}.key.pem`)
    expect(files).toContain(`${oldId}.pub.pem`)
    // ... and after a restart too.
    const again = new KeyRing({ dir: join(dir, 'keys') })
    await again.start()
    expect(again.current().keyId).toBe(newId)
    expect(verifySignedRecord(before, again).valid).toBe(true)
  })

  it('refuses to start when the current private key is missing or a file was renamed', async () => {
    const keysDir = join(dir, 'keys')
    const { keyId } = ring.current()
    await rm(join(keysDir, `${keyId}.key.pem`))
    await expect(new KeyRing({ dir: keysDir }).start()).rejects.toThrow(/private key/)
    const other = join(dir, 'k2')
    const r2 = new KeyRing({ dir: other })
    await r2.start()
    const id2 = r2.current().keyId
    await writeFile(
      join(other, '20990101-aaaaaaaaaaaa.pub.pem'),
      await readFile(join(other, `${id2}.pub.pem`)),
    )
    await expect(new KeyRing({ dir: other }).start()).rejects.toThrow(/does not match/)
  })

  it('exports each public key as PEM and JWK', () => {
    const [k] = ring.publicKeys()
    expect(k).toMatchObject({ algorithm: 'Ed25519', current: true, jwk: { kty: 'OKP', crv: 'Ed25519' } })
    expect(k!.publicKeyPem).toMatch(/BEGIN PUBLIC KEY/)
  })
})
