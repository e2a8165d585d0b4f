import { KampungError } from '../errors.ts'
import type { Registry } from '../registry/index.ts'
import { canonicalJson } from './certificate/canonical.ts'
import { RECORD_ID_PATTERN } from './certificate/record.ts'
import type { SignedRecord } from './certificate/sign.ts'
import type { CertificateStore } from './certificate/store.ts'

/**
 * Signed records in the registry database (table `certificates`), next to the tree they are
 * about. Same rules as every CertificateStore: a record is never overwritten, and what is stored
 * comes back as stored (unparseable text as text) so verification, not the store, judges it.
 */
export class RegistryCertificateStore implements CertificateStore {
  private readonly registry: Registry

  constructor(registry: Registry) {
    this.registry = registry
  }

  async put(signed: SignedRecord): Promise<void> {
    const { id, treeId, issuedAtMs } = signed.record
    try {
      this.registry
        .database()
        .prepare('INSERT INTO certificates (id, tree, signed, issued_at_ms) VALUES (?, ?, ?, ?)')
        .run(id, treeId, canonicalJson(signed), issuedAtMs)
    } catch (err) {
      const code = (err as { code?: string }).code
      if (code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
        throw new KampungError(
          'certificate_exists',
          `certificate ${id} exists; records are never overwritten`,
          {
            retryable: false,
          },
        )
      }
      if (code === 'SQLITE_CONSTRAINT_FOREIGNKEY') {
        throw new KampungError(
          'unknown_tree',
          `certificate ${id} names tree ${treeId}, which is not registered`,
          {
            retryable: false,
          },
        )
      }
      throw err
    }
  }

  async get(id: string): Promise<unknown> {
    if (!RECORD_ID_PATTERN.test(id)) return undefined
    const row = this.registry.database().prepare('SELECT signed FROM certificates WHERE id = ?').get(id) as
      | { signed: string }
      | undefined
    if (!row) return undefined
    try {
      return JSON.parse(row.signed)
    } catch {
      return row.signed
    }
  }

  /** Overwrite the stored text of a record (tests: what an attacker with database access could do). */
  setRawForTest(id: string, text: string): void {
    this.registry.database().prepare('UPDATE certificates SET signed = ? WHERE id = ?').run(text, id)
  }

  rawForTest(id: string): string | undefined {
    const row = this.registry.database().prepare('SELECT signed FROM certificates WHERE id = ?').get(id) as
      | { signed: string }
      | undefined
    return row?.signed
  }
}
