import { createHash } from 'node:crypto'
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import path from 'node:path'
import Database from 'better-sqlite3'
import { type Config, resolvePaths } from '../config.ts'
import { KampungError } from '../errors.ts'

/**
 * `kampung backup DIR` / `kampung restore DIR`: the program's memory (devices and their secret
 * hashes, fields, farmers, alert state, users, signed certificates, the signing and pseudonym
 * keys, the SMS outbox, the embedded store and the spool) copied while the service runs, and put
 * back into a fresh data directory.
 *
 * Each SQLite file is copied with `VACUUM INTO` from a read transaction: a consistent snapshot of
 * that file even while the service writes to it (WAL mode lets the writer go on), and unlike the
 * page-by-page backup API it never restarts under a steady stream of writes. The registry is
 * copied before the outbox: an SMS handed to the outbox after the registry's snapshot is in the
 * outbox copy under the same key (`alert_messages.key`, UNIQUE in the outbox) that the restored
 * engine would hand it with again, so it is not sent twice; the other order could lose one.
 */

export const MANIFEST = 'backup.json'
const FORMAT = 1

export type EntryKind = 'sqlite' | 'file'

export interface ManifestEntry {
  /** Where it goes, relative to the data directory (the default layout). */
  name: string
  kind: EntryKind
  bytes: number
  sha256: string
}

export interface Manifest {
  format: number
  createdAt: string
  sourceDataDir: string
  entries: ManifestEntry[]
}

interface Source {
  name: string
  kind: EntryKind
  /** Where it is in the running system (config may move a file out of the data dir). */
  path: string
  optional: boolean
}

/** What a backup holds, where each part lives under `cfg`, in the order it is copied. */
function sources(cfg: Config): Source[] {
  const p = resolvePaths(cfg)
  const list: Source[] = [
    { name: 'registry.db', kind: 'sqlite', path: p.registry, optional: false },
    {
      name: 'notify/outbox.sqlite',
      kind: 'sqlite',
      path: cfg.notify.outboxPath ?? path.join(cfg.dataDir, 'notify', 'outbox.sqlite'),
      optional: true,
    },
    { name: 'telemetry.db', kind: 'sqlite', path: p.sqlite, optional: true },
    {
      name: 'spool/spool.sqlite',
      kind: 'sqlite',
      path: path.join(p.spoolDir, 'spool.sqlite'),
      optional: true,
    },
  ]
  const keyDir = path.resolve(p.keyDir)
  for (const f of filesUnder(p.oksigenDir))
    if (!f.startsWith(keyDir + path.sep))
      list.push({ name: `oksigen/${path.relative(p.oksigenDir, f)}`, kind: 'file', path: f, optional: false })
  for (const f of filesUnder(keyDir))
    list.push({ name: `oksigen/keys/${path.relative(keyDir, f)}`, kind: 'file', path: f, optional: false })
  return list
}

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return []
  const out: string[] = []
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const full = path.resolve(dir, e.name)
    if (e.isDirectory()) out.push(...filesUnder(full))
    else if (e.isFile()) out.push(full)
  }
  return out.sort()
}

function sha256Of(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex')
}

function problem(code: string, message: string): KampungError {
  return new KampungError(code, message, { retryable: false })
}

function isEmptyDir(dir: string): boolean {
  return !existsSync(dir) || readdirSync(dir).length === 0
}

/** SQLite's own check of a copied file; the failing file is named. */
function checkSqlite(file: string, name: string): void {
  let db: Database.Database | undefined
  try {
    db = new Database(file, { readonly: true, fileMustExist: true })
    const rows = db.pragma('integrity_check') as Array<{ integrity_check: string }>
    const result = rows.map((r) => r.integrity_check).join('; ')
    if (result !== 'ok') throw problem('backup_damaged', `${name}: SQLite integrity check failed: ${result}`)
  } catch (err) {
    if (err instanceof KampungError) throw err
    throw problem('backup_damaged', `${name}: not a readable SQLite database (${(err as Error).message})`)
  } finally {
    db?.close()
  }
}

/**
 * Copies every part of `cfg`'s data into `dir` (which must be empty or new), checks each copy and
 * writes the manifest last: a directory without `backup.json` is an unfinished backup.
 */
export function backup(cfg: Config, dir: string, progress: (line: string) => void = () => {}): Manifest {
  if (!isEmptyDir(dir)) throw problem('backup_target_not_empty', `${dir} is not empty: give a new directory`)
  const src = sources(cfg)
  if (!existsSync(src[0]!.path))
    throw problem(
      'nothing_to_back_up',
      `no registry at ${src[0]!.path}: is this the service's data directory?`,
    )
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  chmodSync(dir, 0o700)
  const entries: ManifestEntry[] = []
  for (const s of src) {
    if (!existsSync(s.path)) {
      if (s.optional) continue
      throw problem('backup_source_missing', `${s.name}: ${s.path} disappeared during the backup`)
    }
    const started = Date.now()
    const target = path.join(dir, s.name)
    mkdirSync(path.dirname(target), { recursive: true, mode: 0o700 })
    if (s.kind === 'sqlite') {
      const db = new Database(s.path, { fileMustExist: true })
      try {
        db.pragma('busy_timeout = 10000')
        db.prepare('VACUUM INTO ?').run(target)
      } finally {
        db.close()
      }
      checkSqlite(target, s.name)
    } else copyFileSync(s.path, target)
    chmodSync(target, 0o600)
    const bytes = statSync(target).size
    entries.push({ name: s.name, kind: s.kind, bytes, sha256: sha256Of(target) })
    progress(`${s.name}: ${(bytes / 1024).toFixed(0)} KiB in ${Date.now() - started} ms`)
  }
  const manifest: Manifest = {
    format: FORMAT,
    createdAt: new Date().toISOString(),
    sourceDataDir: path.resolve(cfg.dataDir),
    entries,
  }
  writeFileSync(path.join(dir, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o600 })
  return manifest
}

/** Reads and checks a backup: manifest present, every file there with its checksum, every database sound. */
export function checkBackup(dir: string): Manifest {
  const file = path.join(dir, MANIFEST)
  if (!existsSync(file))
    throw problem('backup_incomplete', `${file} is missing: not a backup, or one that did not finish`)
  let manifest: Manifest
  try {
    manifest = JSON.parse(readFileSync(file, 'utf8')) as Manifest
  } catch (err) {
    throw problem('backup_damaged', `${file}: not valid JSON (${(err as Error).message})`)
  }
  if (manifest.format !== FORMAT || !Array.isArray(manifest.entries))
    throw problem(
      'backup_format',
      `${file}: format ${String(manifest.format)} is not one this version restores (${FORMAT})`,
    )
  const problems: string[] = []
  for (const e of manifest.entries) {
    const f = path.join(dir, e.name)
    if (path.relative(dir, f).startsWith('..') || path.isAbsolute(e.name)) {
      problems.push(`${e.name}: outside the backup directory`)
      continue
    }
    if (!existsSync(f)) {
      problems.push(`${e.name}: missing`)
      continue
    }
    if (sha256Of(f) !== e.sha256) {
      problems.push(`${e.name}: checksum differs from the manifest (changed or damaged since the backup)`)
      continue
    }
    if (e.kind === 'sqlite') {
      try {
        checkSqlite(f, e.name)
      } catch (err) {
        problems.push((err as Error).message)
      }
    }
  }
  if (!manifest.entries.some((e) => e.name === 'registry.db')) problems.push('registry.db: not in the backup')
  if (problems.length)
    throw problem('backup_damaged', `backup ${dir} cannot be restored:\n  ${problems.join('\n  ')}`)
  return manifest
}

/**
 * Checks the backup in `dir`, then puts it into `cfg`'s data directory, which must not hold a
 * registry yet (restore never overwrites a live system). Files land where `cfg` expects them.
 */
export function restore(cfg: Config, dir: string, progress: (line: string) => void = () => {}): Manifest {
  const manifest = checkBackup(dir)
  const targets = new Map(sources(cfg).map((s) => [s.name, s.path] as const))
  const p = resolvePaths(cfg)
  const targetOf = (name: string): string => {
    const known = targets.get(name)
    if (known) return known
    if (name.startsWith('oksigen/keys/')) return path.join(p.keyDir, name.slice('oksigen/keys/'.length))
    if (name.startsWith('oksigen/')) return path.join(p.oksigenDir, name.slice('oksigen/'.length))
    return path.join(cfg.dataDir, name)
  }
  const occupied = manifest.entries.map((e) => targetOf(e.name)).filter((f) => existsSync(f))
  if (occupied.length)
    throw problem(
      'restore_target_not_fresh',
      `${cfg.dataDir} already holds ${occupied.map((f) => path.relative(cfg.dataDir, f) || f).join(', ')}: restore goes into a fresh data directory`,
    )
  mkdirSync(cfg.dataDir, { recursive: true, mode: 0o700 })
  for (const e of manifest.entries) {
    const target = targetOf(e.name)
    mkdirSync(path.dirname(target), { recursive: true, mode: 0o700 })
    copyFileSync(path.join(dir, e.name), target)
    chmodSync(target, 0o600)
    progress(`${e.name} → ${target}`)
  }
  return manifest
}
