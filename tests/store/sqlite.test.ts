import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { SpoolingStore, SqliteStore } from '../../src/store/index.ts'
import { reading, storeContract } from './contract.ts'

async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'kampung-sqlite-'))
}

storeContract('SqliteStore', async () => {
  const dir = await tempDir()
  const store = new SqliteStore({ path: join(dir, 'telemetry.sqlite') })
  await store.start()
  return {
    store,
    cleanup: async () => {
      await store.stop()
      await rm(dir, { recursive: true, force: true })
    },
  }
})

storeContract('SpoolingStore(SqliteStore)', async () => {
  const dir = await tempDir()
  const store = new SpoolingStore({
    inner: new SqliteStore({ path: join(dir, 'telemetry.sqlite') }),
    dir: join(dir, 'spool'),
  })
  await store.start()
  return {
    store,
    cleanup: async () => {
      await store.stop()
      await rm(dir, { recursive: true, force: true })
    },
  }
})

describe('SqliteStore', () => {
  it('keeps readings across a stop and a new instance on the same file', async () => {
    const dir = await tempDir()
    const path = join(dir, 'telemetry.sqlite')
    const first = new SqliteStore({ path })
    await first.start()
    await first.write([reading({ value: 7 })])
    await first.stop()
    const second = new SqliteStore({ path })
    await second.start()
    expect(await second.query({ quantity: 'soil_moisture' })).toEqual([reading({ value: 7 })])
    await second.stop()
    await rm(dir, { recursive: true, force: true })
  })
})
