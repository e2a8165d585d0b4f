/**
 * Runs tasks one after another in call order, whatever the outcome of the previous one: a store
 * keeps one write in flight (influxd 1.6 fails under many concurrent writes) and in order.
 */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve()

  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.tail.then(task, task)
    this.tail = result.catch(() => {})
    return result
  }

  /** Resolves once every task queued so far has settled. */
  async idle(): Promise<void> {
    await this.tail
  }
}
