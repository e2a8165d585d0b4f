/**
 * The store writes still running, so `stop()` can wait for them before closing what they use.
 * Not a limit: how many writes run at once is the WriteBatcher's one setting
 * (`ingest.maxWritesInFlight`); a store runs every write it is given at once.
 */
export class InFlight {
  private readonly running = new Set<Promise<unknown>>()

  /** Returns `work`, remembered until it settles. */
  track<T>(work: Promise<T>): Promise<T> {
    this.running.add(work)
    const forget = () => {
      this.running.delete(work)
    }
    work.then(forget, forget)
    return work
  }

  /** Resolves once every write tracked so far has settled. */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running])
  }
}
