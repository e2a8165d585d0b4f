import { ALERT_STATES, type AlertState } from '../../alerts/index.ts'
import { KampungError } from '../../errors.ts'
import { utc, wib } from '../csv.ts'
import type { ExportKind } from '../types.ts'

/** Alerts per page read from the alerts table. */
const PAGE_ALERTS = 1_000

/**
 * Smart Farming alerts, newest first, paged by id; `from`/`to` select by the time the condition
 * started.
 */
export const alerts: ExportKind = {
  name: 'alerts',
  description: 'field alerts: rule, severity, state, value and threshold, when fired, resolved, acknowledged',
  params: ['village', 'device', 'state', 'from', 'to'],
  columns: [
    'id',
    'village',
    'field',
    'device',
    'rule',
    'category',
    'severity',
    'state',
    'value',
    'threshold',
    'started_utc',
    'started_wib',
    'fired_utc',
    'resolved_utc',
    'acked_utc',
    'acked_by',
    'escalated_utc',
  ],
  available: (s) => s.alerts !== undefined,
  async *rows(sources, f) {
    const engine = sources.alerts!
    if (f.state !== undefined && !(ALERT_STATES as readonly string[]).includes(f.state))
      throw new KampungError('invalid_query', `state "${f.state}" is not one of ${ALERT_STATES.join(', ')}`, {
        retryable: false,
      })
    let beforeId: number | undefined
    for (;;) {
      const page = engine.listAlerts({
        state: f.state as AlertState | undefined,
        village: f.village,
        limit: PAGE_ALERTS,
        beforeId,
      })
      for (const a of page) {
        if (f.device !== undefined && a.device !== f.device) continue
        if (f.fromMs !== undefined && a.startedAtMs < f.fromMs) continue
        if (f.toMs !== undefined && a.startedAtMs >= f.toMs) continue
        yield [
          a.id,
          a.village,
          a.field,
          a.device,
          a.rule,
          a.category,
          a.severity,
          a.state,
          a.value,
          a.threshold,
          utc(a.startedAtMs),
          wib(a.startedAtMs),
          utc(a.firedAtMs),
          utc(a.resolvedAtMs),
          utc(a.ackedAtMs),
          a.ackedBy,
          utc(a.escalatedAtMs),
        ]
      }
      if (page.length < PAGE_ALERTS) return
      beforeId = page[page.length - 1]!.id
      // the engine works between pages
      await new Promise((resolve) => setImmediate(resolve))
    }
  },
}
