/** Building blocks for InfluxQL text. Every identifier and string literal goes through these. */

/** A double-quoted identifier: `"` and `\` escaped with a backslash. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/[\\"]/g, (ch) => `\\${ch}`)}"`
}

/**
 * A single-quoted string literal: `\` and `'` escaped. A raw newline would end the literal, so
 * CR/LF are refused; stored tag values never contain them (see line-protocol.ts).
 */
export function quoteString(value: string): string {
  if (/[\r\n]/.test(value)) throw new RangeError('InfluxQL string literal with CR/LF')
  return `'${value.replace(/[\\']/g, (ch) => `\\${ch}`)}'`
}

/** `"db"."rp"."measurement"` */
export function qualified(database: string, retentionPolicy: string, measurement: string): string {
  return `${quoteIdent(database)}.${quoteIdent(retentionPolicy)}.${quoteIdent(measurement)}`
}

/** Names we create (database, retention policies, CQs): plain, so they read well unquoted too. */
export const SAFE_NAME = /^[A-Za-z0-9_][A-Za-z0-9_-]*$/
/** InfluxQL duration literal (`90d`, `260w`, `1h30m`) or `INF`. */
export const DURATION = /^(?:(?:\d+(?:ns|u|µ|ms|s|m|h|d|w))+|INF)$/
