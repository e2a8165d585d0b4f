/**
 * Runs store writes at most `concurrency` at a time, started in call order, whatever the outcome
 * of earlier ones. influxd 1.6 fails with "error syncing wal" when about 1 000 writes wait, but two
 * in flight let it write one batch while we encode the next (see bench/results/ingest.md).
 */
/** Writes a store keeps in flight at most. */
export const STORE_WRITES_IN_FLIGHT = 2

export class WriteQueue {
  private running = 0
  private readonly waiting: Array<() => void> = []
  private readonly inFlight = new Set<Promise<unknown>>()

  constructor(private readonly concurrency = 1) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    // A finishing task hands its slot straight to the next waiter, so call order is start order.
    if (this.running >= this.concurrency) await new Promise<void>((resolve) => this.waiting.push(resolve))
    else this.running++
    const result = task()
    this.inFlight.add(result)
    try {
      return await result
    } finally {
      this.inFlight.delete(result)
      const next = this.waiting.shift()
      if (next) next()
      else this.running--
    }
  }

  /** Resolves once every task queued so far has settled. */
  async idle(): Promise<void> {
    while (this.inFlight.size > 0 || this.waiting.length > 0) {
      await Promise.allSettled([...this.inFlight])
      if (this.inFlight.size === 0 && this.waiting.length > 0) await new Promise((r) => setImmediate(r))
    }
  }
}
