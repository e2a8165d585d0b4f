/**
 * Runnable example (see README.md): issue a certificate for a sengon, serve the public page, fetch
 * it, tamper with the stored record, fetch again. Writes record.json and keys.json for the offline
 * check.   npx tsx src/oksigen/certificate/example.ts [outDir]
 */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import express from 'express'
import { verifyRouter } from '../../api/index.ts'
import { estimateBiomass } from '../biomass.ts'
import { estimateHeightM, SPECIES } from '../species.ts'
import { buildRecordDraft, FileCertificateStore, KeyRing, signRecord } from './index.ts'

const out = process.argv[2] ?? (await mkdtemp(join(tmpdir(), 'oksigen-example-')))
const keyRing = new KeyRing({ dir: join(out, 'keys') })
const store = new FileCertificateStore({ dir: join(out, 'certs') })
await keyRing.start()
await store.start()

const DAY_MS = 86_400_000
const plantedAtMs = Date.UTC(2025, 0, 15)
const diameterCm = 6.2
const height = estimateHeightM('sengon', diameterCm, { heightM: 1.6, diameterCm: 1.5 })
const biomassInput = { diameterCm, heightM: height.heightM, woodDensity: SPECIES.sengon.woodDensityGCm3 }
const draft = buildRecordDraft({
  treeId: 'pohon-7qk2m9',
  species: 'sengon',
  plantedOn: plantedAtMs,
  location: { lat: -8.2198765, lon: 114.3691234 },
  evidence: {
    initialDiameterMm: 15,
    currentDiameterMm: 62,
    diameterIncrementMm: 47,
    groUm: 47_000,
    daysObserved: 365,
    dailyAmplitudeUm: 84,
    growthUmPerMonth: 3900,
    alive: true,
    flags: [],
    daily: Array.from({ length: 365 }, (_, i) => ({
      day: new Date(plantedAtMs + i * DAY_MS).toISOString().slice(0, 10),
      groUm: i * 128.8,
      twdUm: 40 + 30 * Math.sin(i / 5),
    })),
  },
  biomass: estimateBiomass(biomassInput),
  biomassInput: { ...biomassInput, heightSource: height.source },
  decision: {
    by: 'auto',
    reason: 'diameter +47 mm >= 5 mm; growing for 30 days',
    atMs: plantedAtMs + 365 * DAY_MS,
  },
})
const signed = signRecord(draft, keyRing)
await store.put(signed)

const app = express().use(verifyRouter({ store, keyRing, publicBaseUrl: 'https://oksigen.example.go.id' }))
const server = app.listen(0, '127.0.0.1')
await new Promise((resolve) => server.once('listening', resolve))
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
const id = signed.record.id

const show = async (what: string) => {
  const res = await fetch(`${base}/verify/${id}`)
  console.log(`${what}: HTTP ${res.status}, ${res.headers.get('x-oksigen-verification')}`)
}
console.log('signed record:', JSON.stringify(signed).slice(0, 160), '...')
console.log('estimate:', JSON.stringify(signed.record.estimate))
await show('GET /verify/<id>')
await writeFile(join(out, 'record.json'), await (await fetch(`${base}/verify/${id}.json`)).text())
await writeFile(join(out, 'keys.json'), await (await fetch(`${base}/verify/keys.json`)).text())
await writeFile(join(out, 'page.html'), await (await fetch(`${base}/verify/${id}`)).text())
await writeFile(
  join(out, 'qr.png'),
  Buffer.from(await (await fetch(`${base}/verify/${id}/qr.png`)).arrayBuffer()),
)

const path = store.pathOf(id)
await writeFile(
  path,
  (await readFile(path, 'utf8')).replace('"diameterIncrementMm":47', '"diameterIncrementMm":48'),
)
await show('after changing one byte on disk')
const unknown = await fetch(`${base}/verify/NoSuchRecord0000`)
console.log(`unknown id: HTTP ${unknown.status}, ${unknown.headers.get('x-oksigen-verification')}`)

const rotated = await keyRing.rotate()
console.log(`rotated to ${rotated}; keys.json now has ${keyRing.publicKeys().length} keys`)
console.log(`files in ${out}: record.json keys.json page.html qr.png`)
server.close()
