import { randomBytes } from 'node:crypto'
import { link, mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { KampungError } from '../../errors.ts'
import { canonicalJson } from './canonical.ts'
import { RECORD_ID_PATTERN } from './record.ts'
import type { SignedRecord } from './sign.ts'

/**
 * Where signed records live. Records are immutable: `put` refuses an id that exists. `get`
 * returns what is stored AS STORED — untrusted until verifySignedRecord says it is valid — or
 * undefined for an unknown id. A stored entry that no longer parses comes back as its raw text, so
 * the page says "damaged" rather than "unknown".
 */
export interface CertificateStore {
  put(signed: SignedRecord): Promise<void>
  get(id: string): Promise<unknown>
}

const exists = (id: string) =>
  new KampungError('certificate_exists', `certificate ${id} exists; records are never overwritten`, {
    retryable: false,
  })

function checkId(id: string): void {
  if (!RECORD_ID_PATTERN.test(id))
    throw new KampungError('invalid_certificate_id', `bad certificate id "${id}"`, { retryable: false })
}

function parseStored(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}

/** In memory, as canonical JSON text (so tests can alter stored bytes through `raw`/`setRaw`). */
export class MemoryCertificateStore implements CertificateStore {
  private readonly texts = new Map<string, string>()

  async put(signed: SignedRecord): Promise<void> {
    const id = signed.record.id
    checkId(id)
    if (this.texts.has(id)) throw exists(id)
    this.texts.set(id, canonicalJson(signed))
  }

  async get(id: string): Promise<unknown> {
    const text = this.texts.get(id)
    return text === undefined ? undefined : parseStored(text)
  }

  raw(id: string): string | undefined {
    return this.texts.get(id)
  }

  setRaw(id: string, text: string): void {
    this.texts.set(id, text)
  }
}

/** One `<id>.json` file per record (canonical JSON) in a directory. */
export class FileCertificateStore implements CertificateStore {
  private readonly dir: string

  constructor(options: { dir: string }) {
    this.dir = options.dir
  }

  async start(): Promise<void> {
    await mkdir(this.dir, { recursive: true })
  }

  async stop(): Promise<void> {}

  pathOf(id: string): string {
    checkId(id) // the id becomes a file name: no path tricks
    return join(this.dir, `${id}.json`)
  }

  async put(signed: SignedRecord): Promise<void> {
    const path = this.pathOf(signed.record.id)
    const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`
    try {
      await writeFile(tmp, canonicalJson(signed), { flag: 'wx' })
      // link, not rename: it fails if the id exists, so a record is never replaced, and readers
      // never see a half-written file.
      await link(tmp, path)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw exists(signed.record.id)
      throw new KampungError('certificate_write_failed', `could not write ${path}`, {
        retryable: true,
        cause: err,
      })
    } finally {
      await rm(tmp, { force: true })
    }
  }

  async get(id: string): Promise<unknown> {
    if (!RECORD_ID_PATTERN.test(id)) return undefined
    let text: string
    try {
      text = await readFile(join(this.dir, `${id}.json`), 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw new KampungError('certificate_read_failed', `could not read certificate ${id}`, {
        retryable: true,
        cause: err,
      })
    }
    return parseStored(text)
  }
}
