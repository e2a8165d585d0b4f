import v8 from 'node:v8'
import { Counter, Gauge, Histogram, Registry } from 'prom-client'

/**
 * Numbers go here, not into logs. One registry per process, served at GET /metrics.
 * Gauges that mirror another component's state (spool depth) are set through collect callbacks.
 */
export class Metrics {
  readonly registry = new Registry()

  /**
   * Per-message counts are kept in plain maps and handed to prom-client at scrape time: a labelled
   * `inc` per message (label hashing) was a measurable share of the ingest's CPU.
   */
  private readonly pendingMessages = new Map<string, number>()
  /** The pendingMessages key of each (transport, outcome) seen (a handful). */
  private readonly messageKeys = new Map<string, Map<string, string>>()
  private readonly pendingAccepted = new Map<string, number>()

  readonly messages = new Counter({
    name: 'kampung_messages_total',
    help: 'Uplink messages handled, by transport and outcome (stored, partial, rejected)',
    labelNames: ['transport', 'outcome'] as const,
    registers: [this.registry],
    collect: () =>
      this.flush(this.pendingMessages, (key, n) => {
        const [transport, outcome] = key.split('|') as [string, string]
        this.messages.inc({ transport, outcome }, n)
      }),
  })

  readonly readingsAccepted = new Counter({
    name: 'kampung_readings_accepted_total',
    help: 'Readings decoded, validated and stored durably',
    labelNames: ['format'] as const,
    registers: [this.registry],
    collect: () => this.flush(this.pendingAccepted, (format, n) => this.readingsAccepted.inc({ format }, n)),
  })

  /** Count one message (cheap; published at the next scrape). */
  countMessage(transport: string, outcome: string): void {
    // A key string per (transport, outcome), made once: not one new string to hash per message.
    let keys = this.messageKeys.get(transport)
    if (keys === undefined) {
      keys = new Map()
      this.messageKeys.set(transport, keys)
    }
    let key = keys.get(outcome)
    if (key === undefined) {
      key = `${transport}|${outcome}`
      keys.set(outcome, key)
    }
    this.pendingMessages.set(key, (this.pendingMessages.get(key) ?? 0) + 1)
  }

  /** Count stored readings (cheap; published at the next scrape). */
  countAccepted(format: string, n: number): void {
    this.pendingAccepted.set(format, (this.pendingAccepted.get(format) ?? 0) + n)
  }

  private flush(pending: Map<string, number>, apply: (key: string, n: number) => void): void {
    for (const [key, n] of pending) apply(key, n)
    pending.clear()
  }

  readonly readingsRejected = new Counter({
    name: 'kampung_readings_rejected_total',
    help: 'Readings or payload parts rejected, by reason',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  })

  readonly quotaRefusals = new Counter({
    name: 'kampung_quota_refusals_total',
    help: 'Messages refused because their device was over a quota (rate: messages per minute, daily: readings per day)',
    labelNames: ['quota'] as const,
    registers: [this.registry],
  })

  readonly storeWriteSeconds = new Histogram({
    name: 'kampung_store_write_seconds',
    help: 'Latency of one batch write to the telemetry store (including spooling)',
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  })

  readonly storeWriteFailures = new Counter({
    name: 'kampung_store_write_failures_total',
    help: 'Store writes that failed (their messages not acknowledged), by error code, e.g. disk_full, store_unreachable',
    labelNames: ['code'] as const,
    registers: [this.registry],
  })

  readonly brokerRefusals = new Counter({
    name: 'kampung_broker_refusals_total',
    help: 'Connections, publishes and subscriptions the broker refused, by cause',
    labelNames: ['cause'] as const,
    registers: [this.registry],
  })

  readonly processMemory = new Gauge({
    name: 'kampung_process_memory_bytes',
    help: 'Memory of this process: rss, heap_total, heap_used, external, array_buffers (process.memoryUsage), and each V8 heap space committed (new_space, old_space, …)',
    labelNames: ['kind'] as const,
    registers: [this.registry],
    collect() {
      const m = process.memoryUsage()
      this.set({ kind: 'rss' }, m.rss)
      this.set({ kind: 'heap_total' }, m.heapTotal)
      this.set({ kind: 'heap_used' }, m.heapUsed)
      this.set({ kind: 'external' }, m.external)
      this.set({ kind: 'array_buffers' }, m.arrayBuffers)
      // V8's spaces, committed: new_space (the young generation), old_space, code_space, …
      for (const space of v8.getHeapSpaceStatistics()) this.set({ kind: space.space_name }, space.space_size)
    },
  })

  /** Register a gauge whose value is read from elsewhere at scrape time. */
  gauge(name: string, help: string, read: () => number): void {
    new Gauge({
      name,
      help,
      registers: [this.registry],
      collect() {
        this.set(read())
      },
    })
  }
}
