import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readFileSync } from 'node:fs'
import { dirname } from 'node:path'
import Database from 'better-sqlite3'
import { KampungError } from './errors.ts'
import { getLogger } from './log.ts'

/**
 * The service's data files (registry with password hashes and phone numbers, outbox, spool,
 * telemetry, keys) are its own: directories 0700, files 0600, whatever the umask. And a damaged
 * SQLite file is named at start, never opened as if nothing happened.
 */

const log = getLogger('files')

/** Directories the service creates for its data: owner only. */
export const PRIVATE_DIR_MODE = 0o700
/** Files the service creates for its data: owner read/write only. */
export const PRIVATE_FILE_MODE = 0o600

/** Creates `dir` (and missing parents) 0700, and makes an existing `dir` 0700 (not its parents). */
export function privateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE })
  tighten(dir, PRIVATE_DIR_MODE)
}

/** chmod, or a warning when the file is not ours to change (another owner): never a refusal to start. */
function tighten(file: string, mode: number): void {
  try {
    chmodSync(file, mode)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') throw err
    log.warn(
      { file, mode: mode.toString(8) },
      'data file belongs to another user; its mode was not tightened',
    )
  }
}

/**
 * Makes a data file 0600 before SQLite opens it: created empty when missing (SQLite takes an
 * empty file as a new database, and makes its -wal and -shm files with the database's mode), and
 * an existing one (with its -wal and -shm) tightened. Missing parent directories are made 0700.
 */
export function privateFile(file: string): void {
  mkdirSync(dirname(file), { recursive: true, mode: PRIVATE_DIR_MODE })
  closeSync(openSync(file, 'a', PRIVATE_FILE_MODE))
  for (const f of [file, `${file}-wal`, `${file}-shm`]) if (existsSync(f)) tighten(f, PRIVATE_FILE_MODE)
}

export interface OpenSqliteOptions {
  /** What the file is, for messages: `registry`, `spool`, `SMS outbox`, `telemetry store`. */
  what: string
  /** Run `PRAGMA quick_check` at open (small files: the cost grows with the file). Default false. */
  quickCheck?: boolean
  /** Pragmas, schema, migrations: run inside the same guard, so a damaged file is named. */
  init?: (db: Database.Database) => void
}

/**
 * Opens a SQLite data file (0600, WAL), refusing a damaged one by name: a write-ahead log with
 * committed transactions SQLite would silently skip (`walDamage`), a file that is not a database
 * or is malformed, or (with `quickCheck`) one whose pages do not check out.
 */
/**
 * WAL mode (kept in the file). Switching a file to WAL needs it to itself for a moment, and SQLite
 * answers SQLITE_BUSY at once, without its busy timeout, while another process holds it (processes
 * opening one new file together): tried again for up to WAL_SWITCH_WAIT_MS.
 */
function setWal(db: Database.Database): void {
  const deadline = Date.now() + WAL_SWITCH_WAIT_MS
  for (let pause = 5; ; pause = Math.min(pause * 2, 200)) {
    try {
      db.pragma('journal_mode = WAL')
      return
    } catch (err) {
      if ((err as { code?: unknown }).code !== 'SQLITE_BUSY' || Date.now() >= deadline) throw err
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, pause)
    }
  }
}

const WAL_SWITCH_WAIT_MS = 10_000

export function openSqlite(file: string, options: OpenSqliteOptions): Database.Database {
  const { what } = options
  if (file !== ':memory:') {
    privateFile(file)
    const damage = walDamage(file)
    if (damage?.certain) {
      throw new KampungError(
        'data_file_damaged',
        `${what} ${file}: its write-ahead log ${file}-wal is damaged (${damage.detail}); SQLite would ` +
          'open it without the transactions after the damage and lose them silently. Refusing to start. ' +
          `Keep a copy of ${file}* for recovery; to start with only what is readable, move ${file}-wal aside.`,
        { retryable: false },
      )
    }
    if (damage) log.warn({ file, what, detail: damage.detail }, 'write-ahead log damaged at its end')
  }
  let db: Database.Database | undefined
  try {
    db = new Database(file)
    setWal(db)
    if (options.quickCheck) {
      const rows = db.pragma('quick_check') as Array<{ quick_check: string }>
      const problems = rows.map((r) => r.quick_check).filter((r) => r !== 'ok')
      if (problems.length > 0)
        throw new KampungError('data_file_damaged', problems.slice(0, 5).join('; '), { retryable: false })
    }
    options.init?.(db)
    return db
  } catch (err) {
    db?.close()
    const code = (err as { code?: unknown }).code
    if (
      (err instanceof KampungError && err.code === 'data_file_damaged') ||
      code === 'SQLITE_CORRUPT' ||
      code === 'SQLITE_NOTADB'
    ) {
      throw new KampungError(
        'data_file_damaged',
        `${what} ${file} is damaged: ${(err as Error).message}. Refusing to start; keep a copy of ${file}* for recovery.`,
        { retryable: false, cause: err },
      )
    }
    throw new KampungError('data_file_unusable', `${what} ${file}: ${(err as Error).message}`, {
      retryable: false,
      cause: err,
    })
  }
}

/**
 * A SQLite error on a data file as a KampungError: a full disk, an I/O error or a busy file is
 * retryable (it can clear); a damaged file or anything else is not.
 */
export function sqliteFault(err: unknown, file: string, what: string): KampungError {
  if (err instanceof KampungError) return err
  const code = String((err as { code?: unknown }).code ?? '')
  const message = `${what} ${file}: ${(err as Error).message ?? String(err)}`
  if (code === 'SQLITE_FULL') return new KampungError('disk_full', message, { retryable: true, cause: err })
  if (code.startsWith('SQLITE_IOERR'))
    return new KampungError('disk_io_error', message, { retryable: true, cause: err })
  if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED')
    return new KampungError('data_file_busy', message, { retryable: true, cause: err })
  if (code === 'SQLITE_CORRUPT' || code === 'SQLITE_NOTADB')
    return new KampungError('data_file_damaged', message, { retryable: false, cause: err })
  return new KampungError('data_file_failed', message, { retryable: false, cause: err })
}

// --- write-ahead log check ---

const WAL_HEADER_BYTES = 32
const FRAME_HEADER_BYTES = 24
const WAL_MAGIC_LE = 0x377f0682
const WAL_MAGIC_BE = 0x377f0683

export interface WalDamage {
  /** True when committed transactions follow the damage (a later transaction began after them). */
  certain: boolean
  detail: string
}

/**
 * Reads `<file>-wal` as SQLite's recovery does (https://sqlite.org/fileformat2.html#walformat):
 * frames are valid while their salts match the header and the running checksum holds; SQLite
 * replays them up to the last commit frame and ignores the rest without a word. Frames of this
 * log (same salts) after the first bad one are transactions that would be lost: when a commit
 * frame among them is followed by more frames, that transaction was committed (synchronous=FULL
 * synced it before the next began) and the loss is certain; a bad frame at the very end is a
 * write torn by the crash, whose transaction was never committed.
 */
export function walDamage(file: string): WalDamage | undefined {
  const wal = `${file}-wal`
  if (!existsSync(wal)) return undefined
  const buf = readFileSync(wal)
  if (buf.length <= WAL_HEADER_BYTES) return undefined
  const magic = buf.readUInt32BE(0)
  const pageSize = buf.readUInt32BE(8)
  const headerOk =
    (magic === WAL_MAGIC_LE || magic === WAL_MAGIC_BE) &&
    pageSize >= 512 &&
    pageSize <= 65_536 &&
    (pageSize & (pageSize - 1)) === 0
  if (!headerOk) {
    return { certain: false, detail: `unreadable header; ${buf.length} bytes of log ignored` }
  }
  const bigEndian = magic === WAL_MAGIC_BE
  const frameBytes = FRAME_HEADER_BYTES + pageSize
  const frames = Math.floor((buf.length - WAL_HEADER_BYTES) / frameBytes)
  const salt1 = buf.readUInt32BE(16)
  const salt2 = buf.readUInt32BE(20)
  let [s0, s1] = walChecksum(buf, 0, 24, bigEndian, 0, 0)
  const headerChecksumOk = s0 === buf.readUInt32BE(24) && s1 === buf.readUInt32BE(28)
  let validFrames = 0
  if (headerChecksumOk) {
    for (; validFrames < frames; validFrames++) {
      const at = WAL_HEADER_BYTES + validFrames * frameBytes
      if (buf.readUInt32BE(at + 8) !== salt1 || buf.readUInt32BE(at + 12) !== salt2) break
      ;[s0, s1] = walChecksum(buf, at, 8, bigEndian, s0, s1)
      ;[s0, s1] = walChecksum(buf, at + FRAME_HEADER_BYTES, pageSize, bigEndian, s0, s1)
      if (s0 !== buf.readUInt32BE(at + 16) || s1 !== buf.readUInt32BE(at + 20)) break
    }
  }
  // Frames of this log after the break: same salts (garbage does not carry them).
  let commitAfterBreak = -1
  let ours = 0
  let certain = false
  for (let i = validFrames + 1; i < frames; i++) {
    const at = WAL_HEADER_BYTES + i * frameBytes
    if (buf.readUInt32BE(at + 8) !== salt1 || buf.readUInt32BE(at + 12) !== salt2) continue
    ours++
    if (commitAfterBreak >= 0) certain = true
    if (buf.readUInt32BE(at + 4) !== 0) commitAfterBreak = i
  }
  if (!headerChecksumOk && frames > 0 && ours > 0) certain = certain || commitAfterBreak >= 0
  if (ours === 0) return undefined
  const where = headerChecksumOk ? `frame ${validFrames + 1} of ${frames}` : 'its header'
  return {
    certain,
    detail: `bad checksum at ${where}; ${ours} later frame(s) of this log would be skipped`,
  }
}

/** SQLite's WAL checksum over `n` bytes (a multiple of 8) of `buf` from `at`, continuing (s0, s1). */
function walChecksum(
  buf: Buffer,
  at: number,
  n: number,
  bigEndian: boolean,
  s0: number,
  s1: number,
): [number, number] {
  let a = s0
  let b = s1
  for (let i = at; i < at + n; i += 8) {
    const x0 = bigEndian ? buf.readUInt32BE(i) : buf.readUInt32LE(i)
    const x1 = bigEndian ? buf.readUInt32BE(i + 4) : buf.readUInt32LE(i + 4)
    a = (a + x0 + b) >>> 0
    b = (b + x1 + a) >>> 0
  }
  return [a, b]
}
