export type { InfluxDownsampleOptions, InfluxStoreOptions } from './influx/influx-store.ts'
export { InfluxPartialWriteError, InfluxStore } from './influx/influx-store.ts'
export { quoteIdent, quoteString, SAFE_NAME } from './influx/influxql.ts'
export {
  encodeReading,
  encodeReadings,
  escapeMeasurement,
  escapeTag,
  formatFloat,
  fromStoredTag,
  toStoredTag,
} from './influx/line-protocol.ts'
export type { SpoolDepth, SpoolingStoreOptions, SpoolWriteEvent } from './spool/spooling-store.ts'
export { SpoolingStore } from './spool/spooling-store.ts'
export type { SqliteStoreOptions } from './sqlite/sqlite-store.ts'
export { SqliteStore } from './sqlite/sqlite-store.ts'
export type { ReadingQuery, TelemetryStore } from './types.ts'
export { validateReadings } from './validate.ts'
