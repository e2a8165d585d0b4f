export type {
  InfluxConnectionOptions,
  PartialWrite,
  SeriesResult,
  StatementResult,
} from './influx/client.ts'
export { InfluxClient, InfluxStatementError } from './influx/client.ts'
export type {
  InfluxDailyOptions,
  InfluxDownsampleOptions,
  InfluxStoreOptions,
} from './influx/influx-store.ts'
export {
  durationMs,
  InfluxPartialWriteError,
  InfluxStore,
  RANGE_POLICIES_MEASUREMENT,
  RANGE_POLICIES_RP,
} from './influx/influx-store.ts'
export { quoteIdent, quoteString, SAFE_NAME } from './influx/influxql.ts'
export type { FieldValue, Point } from './influx/line-protocol.ts'
export {
  encodePoint,
  encodeReading,
  encodeReadings,
  fromStoredTag,
  toStoredTag,
} from './influx/line-protocol.ts'
export type { ContinuousQueryNeed, RetentionPolicyNeed, SchemaNeeds } from './influx/schema.ts'
export { InfluxSchema } from './influx/schema.ts'
export { DEFAULT_PAGE_READINGS, readingPages } from './pages.ts'
export type { SpoolDepth, SpoolingStoreOptions, SpoolWriteEvent } from './spool/spooling-store.ts'
export { SpoolingStore } from './spool/spooling-store.ts'
export type { SqliteStoreOptions } from './sqlite/sqlite-store.ts'
export { SqliteStore } from './sqlite/sqlite-store.ts'
export type { ReadingQuery, RefusedReading, TelemetryStore } from './types.ts'
export { StorePartialWriteError } from './types.ts'
