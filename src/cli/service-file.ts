import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { type Config, resolvePaths } from '../config.ts'

/**
 * What a running `kampung up` tells the commands run beside it: which store it writes to. Without
 * it, `kampung readings` in another shell (without the service's config file or environment)
 * silently read the embedded store while the service wrote to InfluxDB. No credentials are kept
 * here: a command uses its own.
 */
export interface ServiceFile {
  pid: number
  startedAtMs: number
  store: { kind: 'sqlite'; path: string } | { kind: 'influx'; url: string; database: string }
}

const NAME = 'service.json'

export function storeOf(cfg: Config): ServiceFile['store'] {
  return cfg.store.kind === 'influx'
    ? { kind: 'influx', url: cfg.store.influx.url, database: cfg.store.influx.database }
    : { kind: 'sqlite', path: path.resolve(resolvePaths(cfg).sqlite) }
}

export function describeStore(s: ServiceFile['store']): string {
  return s.kind === 'influx' ? `InfluxDB ${s.url} (database ${s.database})` : `SQLite ${s.path}`
}

/** Written at start (readable by the owner only), removed at a clean stop. */
export function writeServiceFile(cfg: Config): () => void {
  const file = path.join(cfg.dataDir, NAME)
  const body: ServiceFile = { pid: process.pid, startedAtMs: Date.now(), store: storeOf(cfg) }
  writeFileSync(file, `${JSON.stringify(body, null, 2)}\n`, { mode: 0o600 })
  return () => {
    try {
      if (readServiceFile(cfg.dataDir)?.pid === process.pid) rmSync(file, { force: true })
    } catch {
      // the data dir is gone: nothing to tidy
    }
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** The running service's file in `dataDir`, or undefined when none runs there (a stale file is ignored). */
export function readServiceFile(dataDir: string): ServiceFile | undefined {
  const file = path.join(dataDir, NAME)
  if (!existsSync(file)) return undefined
  let parsed: ServiceFile
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8')) as ServiceFile
  } catch {
    return undefined
  }
  if (typeof parsed?.pid !== 'number' || !alive(parsed.pid)) return undefined
  if (parsed.store?.kind !== 'influx' && parsed.store?.kind !== 'sqlite') return undefined
  return parsed
}

/**
 * The config a reading command should query with: its own, but with the store of the service
 * running on the same data dir when that differs. `note` says which store and why, for stderr.
 */
export function storeForCommand(cfg: Config): { cfg: Config; note: string } {
  const running = readServiceFile(cfg.dataDir)
  const own = storeOf(cfg)
  if (!running) return { cfg, note: `store: ${describeStore(own)} (from this command's configuration)` }
  const same = JSON.stringify(running.store) === JSON.stringify(own)
  const note = `store: ${describeStore(running.store)} (the running service's, pid ${running.pid})`
  if (same) return { cfg, note }
  const s = running.store
  const store: Config['store'] =
    s.kind === 'influx'
      ? { ...cfg.store, kind: 'influx', influx: { ...cfg.store.influx, url: s.url, database: s.database } }
      : { ...cfg.store, kind: 'sqlite', sqlite: { ...cfg.store.sqlite, path: s.path } }
  return { cfg: { ...cfg, store }, note: `${note}; this command's configuration names ${describeStore(own)}` }
}
