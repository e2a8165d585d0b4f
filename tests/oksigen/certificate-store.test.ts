import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  type CertificateStore,
  FileCertificateStore,
  KeyRing,
  MemoryCertificateStore,
  signRecord,
  verifySignedRecord,
} from '../../src/oksigen/certificate/index.ts'
import { SCHEMAS } from '../../src/schemas.ts'
import { draft } from './certificate-fixtures.ts'

let dir: string
let ring: KeyRing
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'oksigen-store-'))
  ring = new KeyRing({ dir: join(dir, 'keys') })
  await ring.start()
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

interface Harness {
  store: CertificateStore
  /** Overwrite the stored bytes of one record, as an attacker with disk or DB access would. */
  corrupt(id: string, edit: (text: string) => string): Promise<void>
}

/** The contract every CertificateStore must pass (a registry-DB store included). */
function certificateStoreContract(name: string, make: () => Promise<Harness>) {
  describe(`CertificateStore contract: ${name}`, () => {
    it('returns what was put, and it verifies', async () => {
      const { store } = await make()
      const signed = signRecord(draft(), ring)
      await store.put(signed)
      const back = await store.get(signed.record.id)
      expect(back).toEqual(signed)
      expect(verifySignedRecord(back, ring).valid).toBe(true)
    })

    it('says undefined for an unknown or impossible id', async () => {
      const { store } = await make()
      expect(await store.get('AAAAAAAAAAAAAAAA')).toBeUndefined()
      expect(await store.get('../../etc/passwd')).toBeUndefined()
    })

    it('never overwrites a record', async () => {
      const { store } = await make()
      const signed = signRecord(draft(), ring)
      await store.put(signed)
      await expect(store.put(signRecord({ ...draft(), id: signed.record.id }, ring))).rejects.toMatchObject({
        code: 'certificate_exists',
      })
      expect(await store.get(signed.record.id)).toEqual(signed)
    })

    it('hands back altered bytes as they are, so verification fails', async () => {
      const h = await make()
      const signed = signRecord(draft(), ring)
      await h.store.put(signed)
      await h.corrupt(signed.record.id, (t) => t.replace('"alive":true', '"alive":fals'))
      const broken = await h.store.get(signed.record.id)
      expect(broken).toBeTypeOf('string') // unparseable: raw text, not "unknown"
      expect(verifySignedRecord(broken, ring)).toMatchObject({ valid: false, reason: 'malformed' })
      const other = signRecord(draft(), ring)
      await h.store.put(other)
      await h.corrupt(other.record.id, (t) => t.replace('"daysObserved":365', '"daysObserved":366'))
      expect(verifySignedRecord(await h.store.get(other.record.id), ring)).toMatchObject({
        valid: false,
        reason: 'bad_signature',
      })
    })
  })
}

certificateStoreContract('memory', async () => {
  const store = new MemoryCertificateStore()
  return {
    store,
    corrupt: async (id, edit) => {
      store.setRaw(id, edit(store.raw(id)!))
    },
  }
})

certificateStoreContract('files', async () => {
  const store = new FileCertificateStore({ dir: await mkdtemp(join(dir, 'certs-')) })
  await store.start()
  return {
    store,
    corrupt: async (id, edit) => {
      const path = store.pathOf(id)
      await writeFile(path, edit(await readFile(path, 'utf8')))
    },
  }
})

describe('FileCertificateStore', () => {
  it('leaves no temporary files behind', async () => {
    const certs = await mkdtemp(join(dir, 'certs-'))
    const store = new FileCertificateStore({ dir: certs })
    await store.start()
    const signed = signRecord(draft(), ring)
    await store.put(signed)
    await expect(store.put(signed)).rejects.toThrow(/exists/)
    expect(await readdir(certs)).toEqual([`${signed.record.id}.json`])
  })
})

certificateStoreContract('registry database', async () => {
  const { Registry } = await import('../../src/registry/index.ts')
  const { RegistryCertificateStore } = await import('../../src/oksigen/cert-store.ts')
  const registry = new Registry({
    path: join(await mkdtemp(join(dir, 'registry-')), 'registry.db'),
    schemas: SCHEMAS,
  })
  await registry.start()
  registry.addVillage({ id: 'kemiren', name: 'Kemiren' })
  await registry.addDevice({ id: 'dendro-1', village: 'kemiren', kind: 'dendrometer', format: 'json' })
  // the fixture's tree (its public id has capitals, so it is inserted as a row here)
  registry
    .database()
    .prepare(
      `INSERT INTO trees (id, village, device, species, planted_at_ms, initial_diameter_mm, created_at_ms)
       VALUES (?, 'kemiren', 'dendro-1', 'sengon', 0, 10, 0)`,
    )
    .run(draft().treeId)
  const store = new RegistryCertificateStore(registry)
  return {
    store,
    corrupt: async (id, edit) => {
      store.setRawForTest(id, edit(store.rawForTest(id)!))
    },
  }
})
