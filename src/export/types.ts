import type { AlertEngine } from '../alerts/index.ts'
import type { Oksigen } from '../oksigen/index.ts'
import type { TelemetryStore } from '../store/index.ts'
import type { Quantity } from '../telemetry/index.ts'
import type { Cell } from './csv.ts'

/** Where exported rows come from; a kind whose source is absent (alerts off) is not offered. */
export interface ExportSources {
  store: TelemetryStore
  alerts?: AlertEngine
  oksigen?: Oksigen
}

/**
 * What to export. `village` is the one village filter of every kind: a caller limited to some
 * villages gets exactly this value narrowed (the village scope is applied in one place, the route).
 */
export interface ExportFilter {
  village?: string
  device?: string
  sensor?: string
  quantity?: Quantity
  state?: string
  /** Inclusive, ms since epoch. */
  fromMs?: number
  /** Exclusive, ms since epoch. */
  toMs?: number
}

export type ExportParam = Exclude<keyof ExportFilter, 'fromMs' | 'toMs'> | 'from' | 'to'

/** One kind of export: its columns and its rows as an async iterable (bounded memory). */
export interface ExportKind {
  name: string
  description: string
  /** The query parameters it takes (beyond these the request is refused). */
  params: readonly ExportParam[]
  columns: readonly string[]
  /** Whether `sources` can produce it (alerts and trees need their capability enabled). */
  available(sources: ExportSources): boolean
  /** Also checks the filter (unknown state…): throws a non-retryable KampungError before any row. */
  rows(sources: ExportSources, filter: ExportFilter): AsyncIterable<readonly Cell[]>
}
