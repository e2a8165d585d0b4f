import { type Logger, pino } from 'pino'

/**
 * The root logger; every module takes a child named after its capability, and the part within it
 * when there are several: `ingest`, `ingest.mqtt`, `notify.kannel` (the `mod` field of each line).
 */
export const rootLogger: Logger = pino({
  level: process.env.KAMPUNG_LOG_LEVEL ?? (process.env.VITEST ? 'silent' : 'info'),
  base: undefined,
})

/** `capability` or `capability.part`: lower-case words, dot-separated. */
export const LOGGER_NAME = /^[a-z]+(\.[a-z]+)*$/

export function getLogger(mod: string): Logger {
  // One style, so `mod` can be filtered by prefix (`ingest*`) without knowing each module's whim.
  if (!LOGGER_NAME.test(mod))
    throw new Error(`logger name "${mod}" is not capability[.part] (e.g. ingest.mqtt)`)
  return rootLogger.child({ mod })
}

export type { Logger }
