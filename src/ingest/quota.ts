import type { DecodeError } from '../telemetry/index.ts'

/**
 * Per-device quotas on what ingest accepts, for MQTT and HTTP alike (IngestPipeline applies them
 * after decoding): a message rate (token bucket) and a daily volume of readings. A device over
 * either has its message refused with a reason on its errors topic; other devices keep theirs.
 */
export interface QuotaOptions {
  /** Messages per minute a device may send on average; 0: no rate limit. */
  messagesPerMinute: number
  /** Messages a device may send at once before the rate applies (a gateway's backlog after an outage). */
  messagesBurst: number
  /** Readings a device may have stored per Asia/Jakarta day; 0: no daily limit. */
  readingsPerDay: number
}

export const defaultQuotaOptions: QuotaOptions = {
  messagesPerMinute: 0,
  messagesBurst: 600,
  readingsPerDay: 250_000,
}

export type QuotaKind = 'rate' | 'daily'

export interface QuotaRefusal {
  kind: QuotaKind
  /** The rejection as the device's errors topic and HTTP 429 body show it. */
  error: DecodeError
  /** When the device may send again. */
  retryAfterMs: number
  /** First refusal of this device for this kind in a while: report it (the metric counts all). */
  report: boolean
}

/** The day boundary farmers and officers live by (WIB, UTC+7, no daylight saving), as the SMS budget. */
const JAKARTA_OFFSET_MS = 7 * 3_600_000
const DAY_MS = 86_400_000
/** A device refused again and again is told at most once per this long per kind. */
const REPORT_EVERY_MS = 10_000

interface DeviceState {
  tokens: number
  tokensAtMs: number
  day: number
  readingsToday: number
  reportedAtMs: Record<QuotaKind, number>
}

/** The quotas' state: one entry per registered device that sent something (bounded by the registry). */
export class DeviceQuotas {
  readonly opts: QuotaOptions
  private readonly devices = new Map<string, DeviceState>()

  constructor(opts: Partial<QuotaOptions> = {}) {
    this.opts = { ...defaultQuotaOptions, ...opts }
  }

  /**
   * Admits one message of `readings` readings from `deviceId`, counting it, or returns why not
   * (nothing counted then). Counted when admitted: a message the store then fails is resent and
   * counted again (an over-count bounded by what was resent during a store fault).
   */
  admit(deviceId: string, readings: number, nowMs: number): QuotaRefusal | undefined {
    const { messagesPerMinute, messagesBurst, readingsPerDay } = this.opts
    const state = this.state(deviceId, nowMs)
    let tokens = state.tokens
    if (messagesPerMinute > 0) {
      tokens = Math.min(messagesBurst, tokens + ((nowMs - state.tokensAtMs) * messagesPerMinute) / 60_000)
      if (tokens < 1) {
        const retryAfterMs = Math.ceil(((1 - tokens) * 60_000) / messagesPerMinute)
        return this.refuse(state, 'rate', nowMs, retryAfterMs, {
          path: '$',
          reason: 'rate_limited',
          message: `over ${messagesPerMinute} messages per minute (burst ${messagesBurst}): message not stored, retry in ${Math.ceil(retryAfterMs / 1000)} s`,
        })
      }
    }
    if (readingsPerDay > 0 && state.readingsToday + readings > readingsPerDay) {
      const retryAfterMs = (state.day + 1) * DAY_MS - (nowMs + JAKARTA_OFFSET_MS)
      return this.refuse(state, 'daily', nowMs, retryAfterMs, {
        path: '$',
        reason: 'quota_exceeded',
        message: `${state.readingsToday} of ${readingsPerDay} readings stored today (Asia/Jakarta day): these ${readings} not stored until the day ends`,
      })
    }
    if (messagesPerMinute > 0) {
      state.tokens = tokens - 1
      state.tokensAtMs = nowMs
    }
    state.readingsToday += readings
    return undefined
  }

  private state(deviceId: string, nowMs: number): DeviceState {
    let state = this.devices.get(deviceId)
    if (!state) {
      state = {
        tokens: this.opts.messagesBurst,
        tokensAtMs: nowMs,
        day: dayOf(nowMs),
        readingsToday: 0,
        reportedAtMs: { rate: -Infinity, daily: -Infinity },
      }
      this.devices.set(deviceId, state)
    }
    const day = dayOf(nowMs)
    if (day !== state.day) {
      state.day = day
      state.readingsToday = 0
    }
    return state
  }

  private refuse(
    state: DeviceState,
    kind: QuotaKind,
    nowMs: number,
    retryAfterMs: number,
    error: DecodeError,
  ): QuotaRefusal {
    const report = nowMs - state.reportedAtMs[kind] >= REPORT_EVERY_MS
    if (report) state.reportedAtMs[kind] = nowMs
    return { kind, error, retryAfterMs, report }
  }
}

function dayOf(ms: number): number {
  return Math.floor((ms + JAKARTA_OFFSET_MS) / DAY_MS)
}
