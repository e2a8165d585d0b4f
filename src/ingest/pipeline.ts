import { KampungError } from '../errors.ts'
import type { Logger } from '../log.ts'
import { getLogger } from '../log.ts'
import type { Metrics } from '../metrics.ts'
import type { Device } from '../registry/index.ts'
import type { RefusedReading, TelemetryStore } from '../store/index.ts'
import type { DecodeError, Reading } from '../telemetry/index.ts'
import { decode } from '../telemetry/index.ts'
import { WriteBatcher } from './batcher.ts'
import type { DeviceQuotas, QuotaRefusal } from './quota.ts'

export interface IngestOptions {
  store: TelemetryStore
  metrics: Metrics
  batchMaxReadings: number
  batchMaxWaitMs: number
  maxPendingReadings: number
  /** Store writes in flight at most (WriteBatcher): the write path's one concurrency limit. */
  maxWritesInFlight?: number
  /** Tell the device what was rejected (its MQTT errors topic); must not throw. */
  reportRejected?: (device: Device, report: RejectionReport) => void
  /** Per-device message-rate and daily-volume quotas (src/ingest/quota.ts). */
  quotas?: DeviceQuotas
}

/** What a device (or gateway) is told about the parts of a message that were refused. */
export interface RejectionReport {
  atMs: number
  /** The topic or URL path the message came in on. */
  source: string
  accepted: number
  rejected: DecodeError[]
}

export interface IngestOutcome {
  accepted: number
  rejected: DecodeError[]
  /** Set when the whole message was refused by a quota: when the device may send again. */
  retryAfterMs?: number
}

/** Errors listed in one report at most; a payload with 10 000 bad entries gets a summary line. */
const MAX_REPORTED_ERRORS = 50

/**
 * The errors one report lists (errors topic, HTTP answer): the first MAX_REPORTED_ERRORS and a
 * summary line for the rest, so a payload of bad entries never gets an answer larger than itself.
 */
export function reportedErrors(errors: DecodeError[]): DecodeError[] {
  if (errors.length <= MAX_REPORTED_ERRORS) return errors
  return [
    ...errors.slice(0, MAX_REPORTED_ERRORS),
    {
      path: '$',
      reason: errors[MAX_REPORTED_ERRORS]!.reason,
      message: `${errors.length - MAX_REPORTED_ERRORS} more errors not listed`,
    },
  ]
}

/**
 * decode (and validate) → batch → store, shared by every transport (embedded broker, MQTT
 * client, HTTP). `handle` calls back once the message's good readings are durable: transports
 * acknowledge then, never before. Malformed input is data, not an exception: it is counted and
 * reported.
 */
export class IngestPipeline {
  private readonly opts: IngestOptions
  private readonly log: Logger
  private batcher: WriteBatcher | undefined
  private readonly storedListeners: Array<(readings: readonly Reading[]) => void> = []
  /** The store's last write failed (a full disk, InfluxDB down without a spool): since when, why. */
  private writeFault: { code: string; error: string; sinceMs: number } | undefined

  constructor(opts: IngestOptions) {
    this.opts = opts
    this.log = getLogger('ingest')
  }

  async start(): Promise<void> {
    const { metrics } = this.opts
    this.batcher = new WriteBatcher({
      store: this.opts.store,
      maxReadings: this.opts.batchMaxReadings,
      maxWaitMs: this.opts.batchMaxWaitMs,
      maxPending: this.opts.maxPendingReadings,
      maxWritesInFlight: this.opts.maxWritesInFlight,
      onWrite: (_n, seconds) => {
        metrics.storeWriteSeconds.observe(seconds)
        if (this.writeFault) {
          this.log.info(
            { code: this.writeFault.code, failedForMs: Date.now() - this.writeFault.sinceMs },
            'store writes succeed again',
          )
          this.writeFault = undefined
        }
      },
      onWriteFailed: (error) => {
        const code = error instanceof KampungError ? error.code : 'store_failed'
        metrics.storeWriteFailures.inc({ code })
        if (!this.writeFault) {
          this.log.error(
            { code, err: String(error) },
            'store write failed; its messages are not acknowledged',
          )
          this.writeFault = { code, error: String(error), sinceMs: Date.now() }
        }
      },
    })
    metrics.gauge(
      'kampung_ingest_pending_readings',
      'Readings accepted from the network and waiting to become durable',
      () => this.pending,
    )
  }

  /** Drain: everything already accepted becomes durable before this resolves. */
  async stop(): Promise<void> {
    await this.batcher?.drain()
  }

  get pending(): number {
    return this.batcher?.pending ?? 0
  }

  /** Set while store writes fail (since the last failure no write succeeded), for /health. */
  storeWriteFault(): { code: string; error: string; sinceMs: number } | undefined {
    return this.writeFault ? { ...this.writeFault } : undefined
  }

  /**
   * Decodes one message (the only validation on the write path: the stores trust the typed
   * readings it yields), buffers the good readings and calls `done` once they are durable, with
   * the outcome; or with the store's error and no outcome, when the message must not be
   * acknowledged. `done` is never called synchronously. A callback, not a promise: this runs per
   * message; edges that want a promise (the HTTP route) wrap it there.
   */
  handle(
    device: Device,
    payload: Buffer,
    source: string,
    transport: string,
    receivedAtMs: number,
    done: (error: unknown, outcome?: IngestOutcome) => void,
  ): void {
    const batcher = this.batcher
    if (!batcher) {
      queueMicrotask(() => done(new Error('IngestPipeline used before start()')))
      return
    }
    const { readings, errors } = decode(device.format, payload, {
      village: device.village,
      device: device.id,
      receivedAtMs,
      channels: device.channels,
      retentionMs: this.opts.store.retentionMs,
    })
    const over = this.opts.quotas?.admit(device.id, readings.length, receivedAtMs)
    if (over) {
      this.refuseOverQuota(device, over, source, transport, receivedAtMs, done)
      return
    }
    batcher.add(readings, (failed, error, refused) => {
      if (failed) return done(error)
      let stored = readings
      let rejected = errors
      // The store refused some readings for good (the rest are stored): acknowledge, and report them.
      if (refused && refused.length > 0) ({ stored, rejected } = withoutRefused(readings, errors, refused))
      try {
        if (stored.length > 0) this.stored(device.format, stored)
        this.account(device, stored, rejected, source, transport, receivedAtMs)
      } catch (err) {
        return done(err)
      }
      done(undefined, { accepted: stored.length, rejected })
    })
  }

  /**
   * A message over its device's quota: acknowledged (it was received and will not become
   * storable by resending it) but not stored, counted, and the reason on the device's errors
   * topic (at most once per quota every few seconds, so a flood does not double the broker's work).
   */
  private refuseOverQuota(
    device: Device,
    over: QuotaRefusal,
    source: string,
    transport: string,
    receivedAtMs: number,
    done: (error: unknown, outcome?: IngestOutcome) => void,
  ): void {
    const { metrics } = this.opts
    metrics.quotaRefusals.inc({ quota: over.kind })
    const rejected = [over.error]
    if (over.report) this.account(device, [], rejected, source, transport, receivedAtMs)
    else {
      metrics.countMessage(transport, 'rejected')
      metrics.readingsRejected.inc({ reason: over.error.reason })
    }
    queueMicrotask(() => done(undefined, { accepted: 0, rejected, retryAfterMs: over.retryAfterMs }))
  }

  private stored(format: string, readings: readonly Reading[]): void {
    this.opts.metrics.countAccepted(format, readings.length)
    for (const listener of this.storedListeners) {
      try {
        listener(readings)
      } catch (err) {
        this.log.error({ err }, 'a listener of stored readings failed')
      }
    }
  }

  /**
   * Readings once they are durable, for the capabilities downstream of the store (tree
   * verification, alerts). A listener must be quick and must not throw; it is called in order.
   */
  onStored(listener: (readings: readonly Reading[]) => void): void {
    this.storedListeners.push(listener)
  }

  account(
    device: Device | undefined,
    readings: Reading[],
    errors: DecodeError[],
    source: string,
    transport: string,
    receivedAtMs: number,
  ): void {
    const { metrics } = this.opts
    const outcome = errors.length === 0 ? 'stored' : readings.length > 0 ? 'partial' : 'rejected'
    metrics.countMessage(transport, outcome)
    if (errors.length === 0) return
    for (const e of errors) metrics.readingsRejected.inc({ reason: e.reason })
    const rejected = reportedErrors(errors)
    if (!device) return
    try {
      this.opts.reportRejected?.(device, { atMs: receivedAtMs, source, accepted: readings.length, rejected })
    } catch (err) {
      this.log.warn({ err, device: device.id }, 'could not report rejected readings')
    }
  }
}

/** A message's readings without those the store refused, which join its errors (`store_refused`). */
function withoutRefused(
  readings: Reading[],
  errors: DecodeError[],
  refused: readonly RefusedReading[],
): { stored: Reading[]; rejected: DecodeError[] } {
  const byIndex = new Map(refused.map((r) => [r.index, r.message]))
  const stored: Reading[] = []
  const rejected = [...errors]
  readings.forEach((r, i) => {
    const message = byIndex.get(i)
    if (message === undefined) stored.push(r)
    else
      rejected.push({
        path: '$',
        reason: 'store_refused',
        message: `${r.quantity} of sensor ${r.sensor} at ${new Date(r.timeMs).toISOString()}: ${message}`,
      })
  })
  return { stored, rejected }
}
