import { readingPages } from '../../store/index.ts'
import { QUANTITY_NAMES, unitOf } from '../../telemetry/index.ts'
import { utc, wib } from '../csv.ts'
import type { ExportKind } from '../types.ts'

/**
 * Stored readings, oldest first, one quantity after another (all of them unless `quantity` is
 * given), paged from the store (`readingPages`): one page in memory at a time.
 */
export const readings: ExportKind = {
  name: 'readings',
  description: 'sensor readings: village, device, sensor, quantity, value and unit',
  params: ['village', 'device', 'sensor', 'quantity', 'from', 'to'],
  columns: ['time_utc', 'time_wib', 'village', 'device', 'sensor', 'quantity', 'value', 'unit'],
  available: () => true,
  async *rows(sources, f) {
    for (const quantity of f.quantity ? [f.quantity] : QUANTITY_NAMES) {
      const unit = unitOf(quantity)
      const q = {
        quantity,
        village: f.village,
        device: f.device,
        sensor: f.sensor,
        fromMs: f.fromMs,
        toMs: f.toMs,
      }
      for await (const page of readingPages(sources.store, q)) {
        for (const r of page)
          yield [utc(r.timeMs), wib(r.timeMs), r.village, r.device, r.sensor, quantity, r.value, unit]
      }
    }
  },
}
