import { Readable, type Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { stringify } from 'csv-stringify'

/** One CSV cell: numbers are written with a dot (String(n): the shortest exact form), none empty. */
export type Cell = string | number | boolean | undefined | null

/** Western Indonesia Time (Banyuwangi): UTC+7, no daylight saving. */
const WIB_OFFSET_MS = 7 * 3_600_000

/** ISO-8601 in UTC, with ms (`2026-12-03T07:05:00.000Z`), or empty. */
export function utc(ms: number | undefined | null): string {
  return ms === undefined || ms === null ? '' : new Date(ms).toISOString()
}

/** The officers' local time for spreadsheets: `2026-12-03 14:05:00` in WIB, or empty. */
export function wib(ms: number | undefined | null): string {
  if (ms === undefined || ms === null) return ''
  return new Date(ms + WIB_OFFSET_MS).toISOString().slice(0, 19).replace('T', ' ')
}

/**
 * Write `rows` as CSV with a `columns` header row to `out`, honouring backpressure: a row is
 * pulled from `rows` only when `out` has room, so a slow reader holds the producer (and the
 * store's paging) back instead of filling memory. Resolves with the number of data rows.
 */
export async function writeCsv(
  columns: readonly string[],
  rows: AsyncIterable<readonly Cell[]>,
  out: Writable,
  opts: { bom?: boolean } = {},
): Promise<number> {
  let count = 0
  async function* counted() {
    for await (const row of rows) {
      count++
      yield row
    }
  }
  await pipeline(
    Readable.from(counted()),
    stringify({
      header: true,
      columns: [...columns],
      // Excel reads a UTF-8 file as such only with a byte-order mark
      bom: opts.bom ?? false,
      cast: { boolean: (v) => (v ? 'true' : 'false'), number: (v) => String(v) },
    }),
    out,
  )
  return count
}
