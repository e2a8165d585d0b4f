import { type Logger, pino } from 'pino'

/** The root logger; every module takes a child named after itself (`logger.child({ mod: 'ingest' })`). */
export const rootLogger: Logger = pino({
  level: process.env.KAMPUNG_LOG_LEVEL ?? (process.env.VITEST ? 'silent' : 'info'),
  base: undefined,
})

export function getLogger(mod: string): Logger {
  return rootLogger.child({ mod })
}

export type { Logger }
