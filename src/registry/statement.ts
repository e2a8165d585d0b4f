import type Database from 'better-sqlite3'

/**
 * Prepared statements, kept per connection: preparing costs more than running most of these
 * small queries, and the alerts engine and the command service run them for every batch or status.
 */
const cache = new WeakMap<Database.Database, Map<string, Database.Statement>>()

export function statement(db: Database.Database, sql: string): Database.Statement {
  let byText = cache.get(db)
  if (!byText) {
    byText = new Map()
    cache.set(db, byText)
  }
  let s = byText.get(sql)
  if (!s) {
    s = db.prepare(sql)
    byText.set(sql, s)
  }
  return s
}
