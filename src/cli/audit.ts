import { once } from 'node:events'
import { Command, InvalidArgumentError } from 'commander'
import { stringify } from 'csv-stringify'
import { AUDIT_CSV_COLUMNS, AuditLog, auditCsvRecord } from '../audit/index.ts'
import type { Registry } from '../registry/index.ts'
import { action, type CliIo, consoleIo, table } from './devices.ts'
import { positiveInt } from './options.ts'

const UNIT_MS = { m: 60_000, h: 3_600_000, d: 86_400_000 } as const

/** `7d`, `12h`, `30m` back from now, or an ISO 8601 time. */
export function sinceTime(value: string): number {
  const rel = /^(\d+)([mhd])$/.exec(value.trim())
  if (rel) return Date.now() - Number(rel[1]) * UNIT_MS[rel[2] as keyof typeof UNIT_MS]
  const t = Date.parse(value)
  if (!Number.isFinite(t))
    throw new InvalidArgumentError(`an ISO 8601 time or a duration like 7d, 12h, not "${value}".`)
  return t
}

/**
 * `kampung audit [--since 7d] [--csv]`: who changed what, when, from where. Read-only: the log
 * has no command (and no API) to edit or delete an entry. CSV goes to stdout, streamed.
 */
export function auditCommand(
  getRegistry: () => Promise<Registry>,
  io: CliIo = consoleIo,
  stdout: NodeJS.WritableStream = process.stdout,
): Command {
  return new Command('audit')
    .description('the audit log: every change to devices, users, trees, alerts, fields, farmers (read-only)')
    .option('--since <when>', 'from this long ago (7d, 12h) or an ISO 8601 time', sinceTime)
    .option('--until <when>', 'up to (not including) this time', sinceTime)
    .option('--limit <n>', 'table: the newest n entries', positiveInt('--limit'), 50)
    .option('--csv', 'every entry in the range as CSV on stdout, oldest first')
    .action(
      action(
        getRegistry,
        io,
        async (registry, o: { since?: number; until?: number; limit: number; csv?: boolean }) => {
          const audit = new AuditLog(registry)
          const query = { fromMs: o.since, toMs: o.until }
          if (o.csv) {
            const csv = stringify({ header: true, columns: AUDIT_CSV_COLUMNS })
            csv.pipe(stdout, { end: false })
            for (const entry of audit.stream(query))
              if (!csv.write(auditCsvRecord(entry))) await once(csv, 'drain')
            csv.end()
            await once(csv, 'end')
            return
          }
          const entries = audit.list({ ...query, limit: o.limit })
          const rows = entries.map((e) => [
            new Date(e.atMs).toISOString(),
            e.actor,
            e.address,
            e.action,
            e.target,
            JSON.stringify(e.detail),
          ])
          for (const line of table(['TIME', 'ACTOR', 'FROM', 'ACTION', 'TARGET', 'DETAIL'], rows))
            io.out(line)
          io.out(`${entries.length} entr${entries.length === 1 ? 'y' : 'ies'} (newest first)`)
        },
      ),
    )
}
