import { spawnSync } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import express from 'express'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { verifyRouter } from '../../src/api/index.ts'
import { estimateBiomass } from '../../src/oksigen/biomass.ts'
import {
  FileCertificateStore,
  KeyRing,
  type SignedRecord,
  StaticKeySet,
  signRecord,
  verifySignedRecord,
} from '../../src/oksigen/certificate/index.ts'
import { draft } from './certificate-fixtures.ts'

const PUBLIC_BASE = 'https://oksigen.example.go.id/'

let dir: string
let server: Server
let base: string
let store: FileCertificateStore
let ring: KeyRing
let good: SignedRecord

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'oksigen-route-'))
  ring = new KeyRing({ dir: join(dir, 'keys') })
  store = new FileCertificateStore({ dir: join(dir, 'certs') })
  await ring.start()
  await store.start()
  good = signRecord(draft(), ring)
  await store.put(good)
  const app = express()
  app.use(verifyRouter({ store, keyRing: ring, publicBaseUrl: PUBLIC_BASE }))
  server = app.listen(0, '127.0.0.1')
  await new Promise<void>((resolve) => server.once('listening', resolve))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})

afterAll(async () => {
  server.closeIdleConnections()
  await new Promise<void>((resolve) => server.close(() => resolve()))
  await rm(dir, { recursive: true, force: true })
})

async function stored(edit: (r: SignedRecord) => void): Promise<string> {
  const s = signRecord(draft(), ring)
  edit(s)
  await store.put(s)
  return s.record.id
}

describe('GET /verify/:id', () => {
  it('shows VALID, the evidence, the O2 estimate, the chart and the QR code', async () => {
    const res = await fetch(`${base}/verify/${good.record.id}`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/text\/html/)
    expect(res.headers.get('x-oksigen-verification')).toBe('valid')
    expect(res.headers.get('content-security-policy')).toMatch(/default-src 'none'/)
    const html = await res.text()
    expect(html).toContain('<strong>SAH</strong>')
    expect(html).toContain('VALID')
    expect(html).not.toContain('TIDAK SAH')
    expect(html).toContain('T-7QK2M9')
    expect(html).toContain('Falcataria falcata')
    expect(html).toContain('Falcataria moluccana') // its synonym, still in use
    expect(html).toContain('2025-01-15')
    expect(html).toContain('-8.220, 114.369')
    expect(html).toContain('46.96 mm') // diameter increment
    expect(html).toContain(`≈ ${good.record.estimate.o2Kg!.toFixed(1)} kg O₂`)
    expect(html).toMatch(/<polyline[^>]+stroke="#1f7a33"/) // GRO
    expect(html).toMatch(/<polyline[^>]+stroke="#1f5fa8"/) // TWD
    expect(html).toContain(`https://oksigen.example.go.id/verify/${good.record.id}`)
    expect(html).not.toMatch(/<script|https?:\/\/(?!oksigen\.example\.go\.id|www\.w3\.org)/) // no external assets
  })

  it('shows the fitted-range note instead of a number for a small tree', async () => {
    const small = { diameterCm: 2.4, heightM: 2.2, woodDensity: 0.3, heightSource: 'allometry' as const }
    const s = signRecord(draft({ biomass: estimateBiomass(small), biomassInput: small }), ring)
    await store.put(s)
    const html = await (await fetch(`${base}/verify/${s.record.id}`)).text()
    expect(html).toContain('<strong>SAH</strong>')
    expect(html).toContain('Di luar rentang data persamaan')
    expect(html).toMatch(/outside the fitted range/i)
    expect(html).not.toContain('kg O₂</strong>')
  })

  it('shows INVALID, and no evidence, when one byte of the stored record changed on disk', async () => {
    const id = await stored(() => {})
    const path = store.pathOf(id)
    const text = await readFile(path, 'utf8')
    const at = text.indexOf('"diameterIncrementMm":46.96') + '"diameterIncrementMm":4'.length
    await writeFile(path, `${text.slice(0, at)}9${text.slice(at + 1)}`) // 46.96 → 49.96
    const res = await fetch(`${base}/verify/${id}`)
    expect(res.status).toBe(200)
    expect(res.headers.get('x-oksigen-verification')).toBe('invalid')
    const html = await res.text()
    expect(html).toContain('TIDAK SAH')
    expect(html).toContain('INVALID')
    expect(html).toMatch(/Bad signature/)
    expect(html).not.toContain('49.96')
    expect(html).not.toContain('T-7QK2M9')
  })

  it('says why: unknown signing key, damaged record', async () => {
    const foreignRing = new KeyRing({ dir: join(dir, 'foreign') })
    await foreignRing.start()
    const foreign = signRecord(draft(), foreignRing)
    await store.put(foreign)
    expect(await (await fetch(`${base}/verify/${foreign.record.id}`)).text()).toMatch(/Unknown signing key/)
    const id = await stored(() => {})
    await writeFile(store.pathOf(id), '{"record":')
    expect(await (await fetch(`${base}/verify/${id}`)).text()).toMatch(/damaged or malformed/)
  })

  it('does not accept a valid record filed under another id', async () => {
    const id = 'CopiedRecord0001'
    await writeFile(store.pathOf(id), JSON.stringify(good))
    const res = await fetch(`${base}/verify/${id}`)
    expect(res.headers.get('x-oksigen-verification')).toBe('invalid')
  })

  it('answers 404 with a page saying unknown for an unknown id', async () => {
    for (const id of ['NoSuchRecord0000', 'bad%20id', 'x']) {
      const res = await fetch(`${base}/verify/${id}`)
      expect(res.status).toBe(404)
      const html = await res.text()
      expect(html).toContain('TIDAK DIKENAL')
      expect(html).toContain('Unknown record')
    }
  })

  it('escapes whatever the record holds', async () => {
    const s = signRecord(
      { ...draft(), decision: { ...draft().decision, reason: '<img src=x onerror=alert(1)>' } },
      ring,
    )
    await store.put(s)
    const html = await (await fetch(`${base}/verify/${s.record.id}`)).text()
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;')
    expect(html).not.toContain('<img src=x')
  })
})

describe('GET /verify/:id.json and /verify/keys.json', () => {
  it('returns the signed record and the result; it verifies offline with keys.json', async () => {
    const res = await fetch(`${base}/verify/${good.record.id}.json`)
    expect(res.status).toBe(200)
    const body = (await res.json()) as { valid: boolean; signed: unknown; keyId: string }
    expect(body).toMatchObject({ valid: true, keyId: good.keyId, signed: good })
    const keys = (await (await fetch(`${base}/verify/keys.json`)).json()) as {
      keys: Array<{ keyId: string; publicKeyPem: string }>
    }
    expect(verifySignedRecord(body.signed, new StaticKeySet(keys.keys)).valid).toBe(true)
  })

  it('checks out with the dependency-free verify-offline.mjs, and fails it once altered', async () => {
    const recordPath = join(dir, 'record.json')
    const keysPath = join(dir, 'keys.json')
    const body = await (await fetch(`${base}/verify/${good.record.id}.json`)).text()
    await writeFile(recordPath, body)
    await writeFile(keysPath, await (await fetch(`${base}/verify/keys.json`)).text())
    const script = fileURLToPath(new URL('../../src/oksigen/certificate/verify-offline.mjs', import.meta.url))
    const run = (path: string) => spawnSync(process.execPath, [script, path, keysPath], { encoding: 'utf8' })
    const ok = run(recordPath)
    expect(ok.status, ok.stderr).toBe(0)
    expect(ok.stdout).toMatch(/^VALID/)
    await writeFile(recordPath, body.replace('"groUm":46960', '"groUm":46961'))
    const bad = run(recordPath)
    expect(bad.status).toBe(1)
    expect(bad.stdout).toMatch(/^INVALID: bad signature/)
  })

  it('reports invalid and unknown records', async () => {
    const id = await stored((s) => {
      s.record.evidence.alive = false // changed after signing
    })
    expect(await (await fetch(`${base}/verify/${id}.json`)).json()).toMatchObject({
      valid: false,
      reason: 'bad_signature',
    })
    const res = await fetch(`${base}/verify/NoSuchRecord0000.json`)
    expect(res.status).toBe(404)
    expect(await res.json()).toMatchObject({ valid: false, reason: 'unknown_record' })
  })
})

describe('GET /verify/:id/qr.svg and qr.png', () => {
  it('returns an SVG with a path and a PNG', async () => {
    const svg = await fetch(`${base}/verify/${good.record.id}/qr.svg`)
    expect(svg.status).toBe(200)
    expect(svg.headers.get('content-type')).toMatch(/image\/svg\+xml/)
    const text = await svg.text()
    expect(text).toMatch(/^<svg[^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/)
    expect(text).toMatch(/<path[^>]+d="M/)
    const png = await fetch(`${base}/verify/${good.record.id}/qr.png`)
    expect(png.status).toBe(200)
    expect(png.headers.get('content-type')).toBe('image/png')
    const bytes = Buffer.from(await png.arrayBuffer())
    expect(bytes.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))
  })

  it('answers 404 for an unknown id or format', async () => {
    expect((await fetch(`${base}/verify/NoSuchRecord0000/qr.svg`)).status).toBe(404)
    expect((await fetch(`${base}/verify/${good.record.id}/qr.gif`)).status).toBe(404)
  })
})
