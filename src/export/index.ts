export { type Cell, utc, wib, writeCsv } from './csv.ts'
export { EXPORT_KINDS, EXPORT_NAMES } from './kinds/index.ts'
export type { ExportFilter, ExportKind, ExportParam, ExportSources } from './types.ts'
