import { KampungError } from '../errors.ts'
import type { Reading } from '../telemetry/index.ts'
import type { ReadingQuery, TelemetryStore } from './types.ts'

/** Readings per page when none is given: about 1 MB of readings in memory at a time. */
export const DEFAULT_PAGE_READINGS = 5_000

/**
 * Every reading matching `q` (its `limit` ignored), oldest first, in pages of at most `pageSize`
 * readings, so a 90-day export never holds more than a page. Built on `TelemetryStore.query`'s
 * time range and limit, so every store (InfluxDB, SQLite, the spooling wrapper) pages the same way.
 *
 * Pages are cut by time: when a page is full, the readings of its last millisecond are left out
 * and fetched on their own (`[t, t + 1)`, no limit), so readings sharing a time are never split
 * between two pages nor skipped. That one millisecond holds at most one reading per series
 * (village, device, sensor), whatever the page size.
 */
export async function* readingPages(
  store: TelemetryStore,
  q: ReadingQuery,
  pageSize: number = DEFAULT_PAGE_READINGS,
): AsyncGenerator<Reading[]> {
  if (!Number.isSafeInteger(pageSize) || pageSize < 2) {
    throw new KampungError('invalid_query', `page size ${pageSize}: expected an integer ≥ 2`, {
      retryable: false,
    })
  }
  const { limit: _ignored, ...base } = q
  let fromMs = base.fromMs
  for (;;) {
    if (fromMs !== undefined && base.toMs !== undefined && fromMs >= base.toMs) return
    const page = await store.query({ ...base, fromMs, limit: pageSize })
    if (page.length < pageSize) {
      if (page.length > 0) yield page
      return
    }
    const lastMs = page[page.length - 1]!.timeMs
    let cut = page.length
    while (cut > 0 && page[cut - 1]!.timeMs === lastMs) cut--
    if (cut > 0) yield page.slice(0, cut)
    // the last millisecond whole, on its own
    yield await store.query({ ...base, fromMs: lastMs, toMs: lastMs + 1 })
    fromMs = lastMs + 1
  }
}
