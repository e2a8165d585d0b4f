import { Counter, Gauge, Histogram, Registry } from 'prom-client'

/**
 * Numbers go here, not into logs. One registry per process, served at GET /metrics.
 * Gauges that mirror another component's state (spool depth) are set through collect callbacks.
 */
export class Metrics {
  readonly registry = new Registry()

  readonly messages = new Counter({
    name: 'kampung_messages_total',
    help: 'Uplink messages handled, by transport and outcome (stored, partial, rejected)',
    labelNames: ['transport', 'outcome'] as const,
    registers: [this.registry],
  })

  readonly readingsAccepted = new Counter({
    name: 'kampung_readings_accepted_total',
    help: 'Readings decoded, validated and stored durably',
    labelNames: ['format'] as const,
    registers: [this.registry],
  })

  readonly readingsRejected = new Counter({
    name: 'kampung_readings_rejected_total',
    help: 'Readings or payload parts rejected, by reason',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  })

  readonly storeWriteSeconds = new Histogram({
    name: 'kampung_store_write_seconds',
    help: 'Latency of one batch write to the telemetry store (including spooling)',
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  })

  readonly pendingReadings = new Gauge({
    name: 'kampung_ingest_pending_readings',
    help: 'Readings accepted from the network and waiting to become durable',
    registers: [this.registry],
  })

  readonly brokerRefusals = new Counter({
    name: 'kampung_broker_refusals_total',
    help: 'Connections, publishes and subscriptions the broker refused, by cause',
    labelNames: ['cause'] as const,
    registers: [this.registry],
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
