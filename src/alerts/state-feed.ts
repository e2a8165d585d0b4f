import { Counter } from 'prom-client'
import type { Metrics } from '../metrics.ts'
import type { Registry } from '../registry/index.ts'
import {
  type DeviceStatus,
  decode,
  parseDeviceTopic,
  parseStatusMessage,
  type Reading,
  topics,
} from '../telemetry/index.ts'
import { describePartition, ownership, type PartitionConfig } from './partition.ts'

export interface StateFeedOptions {
  partition: PartitionConfig
  registry: Registry
  metrics?: Metrics
  /** Readings are evaluated in batches of at most this many (config `alerts.batchMaxReadings`)… */
  batchMaxReadings: number
  /** …gathered for at most this long (config `alerts.batchMaxWaitMs`): one transaction per batch. */
  batchMaxWaitMs: number
  /**
   * A batch of decoded readings of owned villages. Synchronous: when it returns, what it decided
   * is committed (the engine's SQLite transaction), and only then are the messages acknowledged.
   */
  onReadings: (readings: readonly Reading[]) => void
  /** A status of an owned village (the engine decides which devices' statuses count). */
  onStatus: (status: DeviceStatus) => void
}

/**
 * The state role's input (`kampung state`): what to do with each message of the state worker's
 * own non-shared, persistent QoS 1 session (an MqttConsumer from src/ingest, wired in KampungApp).
 * ALL readings of the villages this worker owns are decoded with the ingest decoders and evaluated,
 * never stored (the ingest workers store). With an explicit village list the worker subscribes to
 * those villages' topics only; with a hash partition to every village's and drops what it does not
 * own. Retained device statuses feed gateway-offline inhibition.
 *
 * `onMessage` resolves once the message's readings are evaluated and committed, and the consumer
 * holds the PUBACK until then: a worker killed mid-batch gets the rest again from its session.
 */
export class StateFeed {
  private readonly opts: StateFeedOptions
  private owns: (village: string) => boolean = () => false
  private buffered: Reading[] = []
  private waiting: Array<{ resolve: () => void; reject: (err: Error) => void }> = []
  private timer: NodeJS.Timeout | undefined
  private counter: Counter<'outcome'> | undefined

  constructor(opts: StateFeedOptions) {
    this.opts = opts
  }

  /** The topic filters of the worker's session. */
  topicFilters(): string[] {
    const villages = this.opts.partition.villages
    if (!villages) return [topics.filter('up'), topics.filter('status')]
    return villages.flatMap((v) => [topics.filter('up', v), topics.filter('status', v)])
  }

  /** For the log line of the worker's subscription. */
  describe(): string {
    return describePartition(this.opts.partition)
  }

  async start(): Promise<void> {
    const o = this.opts
    this.owns = ownership(o.partition)
    if (o.metrics && !this.counter)
      this.counter = new Counter({
        name: 'kampung_state_messages_total',
        help: 'Messages the state worker took: evaluated, not_owned (another worker owns the village), unknown_device, status',
        labelNames: ['outcome'] as const,
        registers: [o.metrics.registry],
      })
  }

  /** Which of the registry's villages this worker owns (operators check the split with it). */
  ownedVillages(): string[] {
    return this.opts.registry
      .listVillages()
      .map((v) => v.id)
      .filter((v) => this.owns(v))
  }

  /** The MqttConsumer's handler. */
  readonly onMessage = (topic: string, payload: Buffer): Promise<void> => {
    try {
      return this.process(topic, payload)
    } catch (err) {
      return Promise.reject(err as Error)
    }
  }

  private process(topic: string, payload: Buffer): Promise<void> {
    const status = parseStatusMessage(topic, payload)
    if (status) {
      if (this.owns(status.village)) {
        this.opts.onStatus(status)
        this.counter?.inc({ outcome: 'status' })
      }
      return Promise.resolve()
    }
    const t = parseDeviceTopic(topic)
    if (t?.leaf !== 'up') return Promise.resolve()
    if (!this.owns(t.village)) {
      this.counter?.inc({ outcome: 'not_owned' })
      return Promise.resolve()
    }
    const device = this.opts.registry.getDevice(t.device)
    // Ingest counts and reports bad input to the device; here it is only skipped.
    if (!device || device.village !== t.village) {
      this.counter?.inc({ outcome: 'unknown_device' })
      return Promise.resolve()
    }
    const { readings } = decode(device.format, payload, {
      village: device.village,
      device: device.id,
      receivedAtMs: Date.now(),
      channels: device.channels,
    })
    this.counter?.inc({ outcome: 'evaluated' })
    if (readings.length === 0) return Promise.resolve()
    this.buffered.push(...readings)
    const done = new Promise<void>((resolve, reject) => this.waiting.push({ resolve, reject }))
    if (this.buffered.length >= this.opts.batchMaxReadings) this.evaluate()
    else this.timer ??= setTimeout(() => this.evaluate(), this.opts.batchMaxWaitMs)
    return done
  }

  private evaluate(): void {
    clearTimeout(this.timer)
    this.timer = undefined
    const batch = this.buffered
    const waiting = this.waiting
    this.buffered = []
    this.waiting = []
    if (batch.length === 0) return
    try {
      this.opts.onReadings(batch)
      for (const w of waiting) w.resolve()
    } catch (err) {
      for (const w of waiting) w.reject(err as Error)
    }
  }

  /** Evaluates what is gathered (the consumer, stopped first, waited for its messages already). */
  async stop(): Promise<void> {
    this.evaluate()
  }
}
