import { createWriteStream, rmSync } from 'node:fs'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { ReadableStream as WebReadableStream } from 'node:stream/web'
import { Argument, Command } from 'commander'
import { EXPORT_NAMES } from '../export/index.ts'

/**
 * `kampung export readings|alerts|trees|decisions [--out FILE]`: the CSV of
 * GET /api/v1/export/<kind>.csv from a running service, streamed to the file (or stdout) as it
 * comes. Credentials as for `kampung trees`: a `service` account, from --user/--password or
 * KAMPUNG_API_USER/KAMPUNG_API_PASSWORD.
 */
export function exportCommand(defaultApiUrl: () => string): Command {
  return new Command('export')
    .description('CSV of readings, alerts, trees (with evidence) or decisions, from the running service')
    .addArgument(new Argument('<kind>', 'what to export').choices(EXPORT_NAMES))
    .option('--out <file>', 'write here (default: stdout)')
    .option('--village <id>')
    .option('--device <id>')
    .option('--sensor <name>', 'readings only')
    .option('--quantity <name>', 'readings only (default: every quantity)')
    .option('--state <state>', 'alerts and trees only')
    .option('--from <time>', 'ISO-8601 time or ms since the epoch (inclusive)')
    .option('--to <time>', 'ISO-8601 time or ms since the epoch (exclusive)')
    .option('--api <url>', 'the service API (default: from config)')
    .option('--user <id>', 'officer account (a registered device of kind service); env KAMPUNG_API_USER')
    .option('--password <secret>', 'its secret; env KAMPUNG_API_PASSWORD')
    .action(async (kind: string, o: Record<string, string | undefined>) => {
      const user = o.user ?? process.env.KAMPUNG_API_USER
      const password = o.password ?? process.env.KAMPUNG_API_PASSWORD
      if (!user || !password)
        throw new Error(
          'officer credentials needed: --user/--password or KAMPUNG_API_USER/KAMPUNG_API_PASSWORD',
        )
      const params = new URLSearchParams()
      for (const key of ['village', 'device', 'sensor', 'quantity', 'state', 'from', 'to'])
        if (o[key] !== undefined) params.set(key, o[key]!)
      const url = `${o.api ?? defaultApiUrl()}/api/v1/export/${kind}.csv${params.size ? `?${params}` : ''}`
      let res: Response
      try {
        res = await fetch(url, {
          headers: { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` },
        })
      } catch (err) {
        throw new Error(
          `cannot reach the service at ${url}: ${(err as Error).message} (is \`kampung up\` running?)`,
        )
      }
      if (!res.ok || !res.body) {
        const out = (await res.json().catch(() => ({}))) as { message?: string; problems?: string[] }
        throw new Error(
          [`${res.status}: ${out.message ?? res.statusText}`, ...(out.problems ?? [])].join('\n  '),
        )
      }
      const body = Readable.fromWeb(res.body as WebReadableStream<Uint8Array>)
      if (!o.out) return pipeline(body, process.stdout)
      try {
        await pipeline(body, createWriteStream(o.out))
      } catch (err) {
        // a download cut short leaves no file that looks complete
        rmSync(o.out, { force: true })
        throw new Error(`export to ${o.out} cut short: ${(err as Error).message}`)
      }
      console.error(`${kind} exported to ${o.out}`)
    })
}
