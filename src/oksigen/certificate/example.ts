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
import { estimateTree } from '../estimate.ts'
import { SPECIES } from '../species.ts'
import { buildRecordDraft, FileCertificateStore, KeyRing, signRecord } from './index.ts'

const out = process.argv[2] ?? (await mkdtemp(join(tmpdir(), 'oksigen-example-')))
const keyRing = new KeyRing({ dir: join(out, 'keys') })
const store = new FileCertificateStore({ dir: join(out, 'certs') })
await keyRing.start()
await store.start()

const DAY_MS = 86_400_000
const plantedAtMs = Date.UTC(2025, 0, 15)
// The officer measured DBH 2.8 cm and height 3.2 m half a year after planting, when the
// dendrometer had recorded 22 000 µm of growth; it has recorded 47 000 µm by now.
const estimate = estimateTree({
  species: SPECIES.sengon,
  measurements: [
    { atMs: plantedAtMs, heightM: 1.1, groUmAt: 0, by: 'registration' },
    { atMs: plantedAtMs + 182 * DAY_MS, dbhCm: 2.8, heightM: 3.2, groUmAt: 22_000, by: 'officer-1' },
  ],
  groUm: 47_000,
})
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
    mdsUm: 61,
    mdsMethod: 'mds',
    mountHeightCm: 30,
    growthUmPerMonth: 3900,
    alive: true,
    flags: [],
    daily: Array.from({ length: 365 }, (_, i) => ({
      day: new Date(plantedAtMs + i * DAY_MS).toISOString().slice(0, 10),
      groUm: i * 128.8,
      twdUm: 40 + 30 * Math.sin(i / 5),
    })),
  },
  estimate,
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
