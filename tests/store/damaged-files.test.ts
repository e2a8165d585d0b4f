import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import Database from 'better-sqlite3'
import { afterAll, describe, expect, it } from 'vitest'
import { KampungError } from '../../src/errors.ts'
import { walDamage } from '../../src/files.ts'
import { Registry } from '../../src/registry/index.ts'
import { SCHEMAS } from '../../src/schemas.ts'
import type { ReadingQuery, TelemetryStore } from '../../src/store/index.ts'
import { SpoolingStore, SqliteStore } from '../../src/store/index.ts'
import type { Reading } from '../../src/telemetry/index.ts'
import { startApp } from '../harness/app.ts'

const dirs: string[] = []
const tempDir = () => {
  const d = mkdtempSync(path.join(os.tmpdir(), 'kampung-damage-'))
  dirs.push(d)
  return d
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

/** InfluxDB away for good: every write fails retryably, so the spool keeps everything. */
class DownStore implements TelemetryStore {
  readonly name = 'influxdb'
  async start() {}
  async stop() {}
  async write(_r: readonly Reading[]): Promise<void> {
    throw new KampungError('store_unreachable', 'connect ECONNREFUSED', { retryable: true })
  }
  async query(_q: ReadingQuery) {
    return []
  }
  async count(_q: ReadingQuery) {
    return 0
  }
}

const reading = (i: number): Reading => ({
  timeMs: 1_780_000_000_000 + i * 60_000,
  village: 'kemiren',
  device: 'soil-01',
  sensor: 'main',
  quantity: 'soil_moisture',
  value: i % 50,
})

const mode = (p: string) => statSync(p).mode & 0o777

describe('a damaged spool is detected at start, never drained with readings silently missing', () => {
  it('garbage in the write-ahead log after a crash: start refuses and names the file', async () => {
    const dir = tempDir()
    const live = path.join(dir, 'live')
    const store = new SpoolingStore({ inner: new DownStore(), dir: live, initialBackoffMs: 60_000 })
    await store.start()
    // A reader holds the log open (as the drainer does mid-drain), so it is not checkpointed away.
    const reader = new Database(path.join(live, 'spool.sqlite'), { readonly: true })
    reader.prepare('BEGIN').run()
    reader.prepare('SELECT count(*) FROM batches').get()
    for (let i = 0; i < 1_000; i++) await store.write([reading(i)]) // 1 000 acknowledged batches
    expect(store.spoolDepth().batches).toBe(1_000)

    // The crash: the files as they are on disk now, with garbage written into the log's middle.
    const crashed = path.join(dir, 'crashed')
    mkdirSync(crashed)
    for (const f of ['spool.sqlite', 'spool.sqlite-wal'])
      copyFileSync(path.join(live, f), path.join(crashed, f))
    reader.prepare('COMMIT').run()
    reader.close()
    await store.stop()
    const wal = readFileSync(path.join(crashed, 'spool.sqlite-wal'))
    const at = Math.floor(wal.length * 0.15)
    for (let i = 0; i < 256; i++) wal[at + i] = (i * 131 + 7) & 0xff
    writeFileSync(path.join(crashed, 'spool.sqlite-wal'), wal)

    // What SQLite alone would do: open without a word, most acknowledged batches gone.
    const copy = path.join(dir, 'sqlite-alone')
    mkdirSync(copy)
    for (const f of ['spool.sqlite', 'spool.sqlite-wal'])
      copyFileSync(path.join(crashed, f), path.join(copy, f))
    const plain = new Database(path.join(copy, 'spool.sqlite'))
    const seen = (plain.prepare('SELECT count(*) AS n FROM batches').get() as { n: number }).n
    plain.close()
    expect(seen).toBeLessThan(1_000)

    expect(walDamage(path.join(crashed, 'spool.sqlite'))).toMatchObject({ certain: true })
    const again = new SpoolingStore({ inner: new DownStore(), dir: crashed })
    const err = (await again.start().catch((e: unknown) => e)) as KampungError
    expect(err).toBeInstanceOf(KampungError)
    expect(err.code).toBe('data_file_damaged')
    expect(err.message).toContain(path.join(crashed, 'spool.sqlite-wal'))
    expect(err.message).toMatch(/Refusing to start/)
  }, 60_000)

  it('a healthy log that SQLite has checkpointed and reused (old frames behind the new ones) is not damage', async () => {
    const dir = tempDir()
    const live = path.join(dir, 'live')
    const store = new SpoolingStore({ inner: new DownStore(), dir: live, initialBackoffMs: 60_000 })
    await store.start()
    // Past 1 000 pages SQLite checkpoints and starts the log again from its beginning.
    for (let i = 0; i < 1_500; i++) await store.write([reading(i), reading(i + 1), reading(i + 2)])
    const crashed = path.join(dir, 'crashed')
    mkdirSync(crashed)
    for (const f of ['spool.sqlite', 'spool.sqlite-wal'])
      copyFileSync(path.join(live, f), path.join(crashed, f))
    await store.stop()
    // The log was started again at least once (its checkpoint sequence number counts the resets).
    expect(readFileSync(path.join(crashed, 'spool.sqlite-wal')).readUInt32BE(12)).toBeGreaterThan(0)
    expect(walDamage(path.join(crashed, 'spool.sqlite'))).toBeUndefined()
    const again = new SpoolingStore({ inner: new DownStore(), dir: crashed, initialBackoffMs: 60_000 })
    await again.start()
    expect(again.spoolDepth().batches).toBe(1_500)
    await again.stop()
  }, 60_000)

  it('a write torn by the crash at the log end is normal: the spool starts', async () => {
    const dir = tempDir()
    const live = path.join(dir, 'live')
    const store = new SpoolingStore({ inner: new DownStore(), dir: live, initialBackoffMs: 60_000 })
    await store.start()
    const reader = new Database(path.join(live, 'spool.sqlite'), { readonly: true })
    reader.prepare('BEGIN').run()
    reader.prepare('SELECT count(*) FROM batches').get()
    for (let i = 0; i < 200; i++) await store.write([reading(i)])
    const crashed = path.join(dir, 'crashed')
    mkdirSync(crashed)
    for (const f of ['spool.sqlite', 'spool.sqlite-wal'])
      copyFileSync(path.join(live, f), path.join(crashed, f))
    reader.prepare('COMMIT').run()
    reader.close()
    await store.stop()
    const wal = readFileSync(path.join(crashed, 'spool.sqlite-wal'))
    for (let i = 1; i <= 100; i++) wal[wal.length - i] = wal[wal.length - i]! ^ 0x5a // the last frame half written
    writeFileSync(path.join(crashed, 'spool.sqlite-wal'), wal)
    expect(walDamage(path.join(crashed, 'spool.sqlite'))).toBeUndefined()
    const again = new SpoolingStore({ inner: new DownStore(), dir: crashed, initialBackoffMs: 60_000 })
    await again.start()
    expect(again.spoolDepth().batches).toBe(199) // only the torn, never acknowledged, last one is gone
    await again.stop()
  }, 30_000)
})

describe('a corrupt database at start names the file', () => {
  it('registry, telemetry store and spool', async () => {
    const dir = tempDir()
    const garbage = Buffer.alloc(8192, 0x41)
    const registryPath = path.join(dir, 'registry.sqlite')
    writeFileSync(registryPath, garbage)
    const regErr = (await Promise.resolve()
      .then(() => new Registry({ path: registryPath, schemas: SCHEMAS }).start())
      .catch((e: unknown) => e)) as KampungError
    expect(regErr.code).toBe('data_file_damaged')
    expect(regErr.message).toContain(`registry ${registryPath} is damaged`)

    const telemetryPath = path.join(dir, 'telemetry.db')
    writeFileSync(telemetryPath, garbage)
    const storeErr = (await new SqliteStore({ path: telemetryPath })
      .start()
      .catch((e: unknown) => e)) as KampungError
    expect(storeErr.message).toContain(`telemetry store ${telemetryPath} is damaged`)

    const spoolDir = path.join(dir, 'spool')
    mkdirSync(spoolDir)
    writeFileSync(path.join(spoolDir, 'spool.sqlite'), garbage)
    const spoolErr = (await new SpoolingStore({ inner: new DownStore(), dir: spoolDir })
      .start()
      .catch((e: unknown) => e)) as KampungError
    expect(spoolErr.message).toContain(`spool ${path.join(spoolDir, 'spool.sqlite')} is damaged`)
  })

  it('a registry whose pages are damaged (valid header) is refused by the quick check, by name', async () => {
    const dir = tempDir()
    const file = path.join(dir, 'registry.sqlite')
    const reg = new Registry({ path: file, schemas: SCHEMAS })
    await reg.start()
    reg.addVillage({ id: 'kemiren', name: 'Kemiren' })
    for (let i = 0; i < 50; i++)
      await reg.addDevice({ id: `soil-${i}`, village: 'kemiren', kind: 'soil', format: 'json' })
    await reg.stop()
    const bytes = readFileSync(file)
    const pageSize = bytes.readUInt16BE(16)
    // Scribble over the second page (a b-tree page), leaving the file header intact.
    for (let i = pageSize; i < pageSize * 2; i++) bytes[i] = (i * 13) & 0xff
    writeFileSync(file, bytes)
    const err = (await Promise.resolve()
      .then(() => new Registry({ path: file, schemas: SCHEMAS }).start())
      .catch((e: unknown) => e)) as KampungError
    expect(err).toBeInstanceOf(KampungError)
    expect(err.code).toBe('data_file_damaged')
    expect(err.message).toContain(file)
  })
})

describe('data files and directories are private', () => {
  it('0700 data, notify and spool directories; 0600 registry, outbox, spool and telemetry files', async () => {
    const dataDir = path.join(tempDir(), 'data')
    const t = await startApp({ store: { kind: 'sqlite' } }, dataDir)
    try {
      await t.addDevice({ id: 'soil-01', village: 'kemiren' })
      expect(mode(dataDir)).toBe(0o700)
      expect(mode(path.join(dataDir, 'notify'))).toBe(0o700)
      for (const f of ['registry.db', 'telemetry.db', 'notify/outbox.sqlite']) {
        expect(mode(path.join(dataDir, f)), f).toBe(0o600)
        expect(mode(path.join(dataDir, `${f}-wal`)), `${f}-wal`).toBe(0o600)
      }
    } finally {
      await t.stop()
    }
    const spoolDir = path.join(tempDir(), 'spool')
    const spool = new SpoolingStore({ inner: new DownStore(), dir: spoolDir, initialBackoffMs: 60_000 })
    await spool.start()
    await spool.write([reading(1)])
    expect(mode(spoolDir)).toBe(0o700)
    expect(mode(path.join(spoolDir, 'spool.sqlite'))).toBe(0o600)
    expect(mode(path.join(spoolDir, 'spool.sqlite-wal'))).toBe(0o600)
    await spool.stop()
  })
})
