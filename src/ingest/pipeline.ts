import type { Logger } from '../log.ts'
import { getLogger } from '../log.ts'
import type { Metrics } from '../metrics.ts'
import type { Device } from '../registry/index.ts'
import type { TelemetryStore } from '../store/index.ts'
import type { DecodeError, Reading } from '../telemetry/index.ts'
import { decode } from '../telemetry/index.ts'
import { type AddDone, WriteBatcher } from './batcher.ts'

export interface IngestOptions {
  store: TelemetryStore
  metrics: Metrics
  batchMaxReadings: number
  batchMaxWaitMs: number
  maxPendingReadings: number
  maxWritesInFlight?: number
  /** Tell the device what was rejected (its MQTT errors topic); must not throw. */
  reportRejected?: (device: Device, report: RejectionReport) => void
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
}

/** Errors listed in one report at most; a payload with 10 000 bad entries gets a summary line. */
const MAX_REPORTED_ERRORS = 50

/**
 * decode → validate → batch → store, shared by every transport (embedded broker, MQTT client,
 * HTTP). `handle` resolves once the message's good readings are durable: transports acknowledge
 * then, never before. Malformed input is data, not an exception: it is counted and reported.
 */
export class IngestPipeline {
  private readonly opts: IngestOptions
  private readonly log: Logger
  private batcher: WriteBatcher | undefined
  private readonly storedListeners: Array<(readings: readonly Reading[]) => void> = []

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
      onWrite: (_n, seconds) => metrics.storeWriteSeconds.observe(seconds),
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

  handle(
    device: Device,
    payload: Buffer,
    source: string,
    transport: string,
    receivedAtMs = Date.now(),
  ): Promise<IngestOutcome> {
    return new Promise((resolve, reject) =>
      this.handleThen(
        device,
        payload,
        source,
        transport,
        (error, outcome) => (outcome ? resolve(outcome) : reject(error)),
        receivedAtMs,
      ),
    )
  }

  /**
   * `handle` with a callback (the embedded broker's per-message path: no promise per message).
   * `done` gets the outcome once the good readings are durable, or the store's error (outcome
   * undefined); never synchronously.
   */
  handleThen(
    device: Device,
    payload: Buffer,
    source: string,
    transport: string,
    done: (error: unknown, outcome?: IngestOutcome) => void,
    receivedAtMs = Date.now(),
  ): void {
    const { readings, errors } = decode(device.format, payload, {
      village: device.village,
      device: device.id,
      receivedAtMs,
      channels: device.channels,
    })
    this.storeThen(readings, device.format, (failed, error) => {
      if (failed) return done(error)
      try {
        this.account(device, readings, errors, source, transport, receivedAtMs)
      } catch (err) {
        return done(err)
      }
      done(undefined, { accepted: readings.length, rejected: errors })
    })
  }

  /** Store readings already decoded elsewhere (HTTP batches spanning several devices). */
  store(readings: Reading[], format: string): Promise<void> {
    return new Promise((resolve, reject) =>
      this.storeThen(readings, format, (failed, error) => (failed ? reject(error) : resolve())),
    )
  }

  private storeThen(readings: Reading[], format: string, done: AddDone): void {
    if (!this.batcher) {
      const error = new Error('IngestPipeline used before start()')
      queueMicrotask(() => done(true, error))
      return
    }
    this.batcher.addThen(readings, (failed, error) => {
      if (!failed && readings.length > 0) {
        this.opts.metrics.countAccepted(format, readings.length)
        for (const listener of this.storedListeners) {
          try {
            listener(readings)
          } catch (err) {
            this.log.error({ err }, 'a listener of stored readings failed')
          }
        }
      }
      done(failed, error)
    })
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
    const rejected =
      errors.length > MAX_REPORTED_ERRORS
        ? [
            ...errors.slice(0, MAX_REPORTED_ERRORS),
            {
              path: '$',
              reason: errors[MAX_REPORTED_ERRORS]!.reason,
              message: `${errors.length - MAX_REPORTED_ERRORS} more errors not listed`,
            },
          ]
        : errors
    if (!device) return
    try {
      this.opts.reportRejected?.(device, { atMs: receivedAtMs, source, accepted: readings.length, rejected })
    } catch (err) {
      this.log.warn({ err, device: device.id }, 'could not report rejected readings')
    }
  }
}
