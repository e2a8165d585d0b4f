/**
 * Virtual timers for johnny-five components in accelerated simulation.
 *
 * johnny-five components (Sensor, Thermometer, Hygrometer, Barometer, Multi) emit `data` from a
 * private `setInterval(…, freq)` created in their constructor; the callback is not reachable from
 * outside. To run thousands of sampling cycles per second, deterministically, the components are
 * constructed inside `capture()`, which hands them these timers instead of Node's; `advance(ms)`
 * then runs their interval callbacks (johnny-five's own code) in time order. Only code running
 * synchronously inside `capture()` is affected; Node's timers are restored before it returns.
 */

interface VirtualTimer {
  id: number
  cb: () => void
  periodMs: number | undefined
  dueMs: number
}

/** The handle johnny-five stores; Node's clearInterval ignores it (not a Node Timeout). */
interface VirtualHandle {
  readonly virtualTimerId: number
  ref(): VirtualHandle
  unref(): VirtualHandle
  hasRef(): boolean
}

export class VirtualTimers {
  private nowMs = 0
  private nextId = 1
  private readonly timers = new Map<number, VirtualTimer>()

  get now(): number {
    return this.nowMs
  }

  get size(): number {
    return this.timers.size
  }

  /** Run `fn` with setInterval/setTimeout (and their clear functions) bound to these timers. */
  capture<T>(fn: () => T): T {
    const g = globalThis as Record<string, unknown>
    const saved = {
      setInterval: g.setInterval,
      setTimeout: g.setTimeout,
      clearInterval: g.clearInterval,
      clearTimeout: g.clearTimeout,
    }
    const clear = (handle: unknown) => {
      if (isVirtualHandle(handle)) this.timers.delete(handle.virtualTimerId)
      else (saved.clearTimeout as (h: unknown) => void)(handle)
    }
    g.setInterval = (cb: () => void, ms?: number) => this.add(cb, ms, true)
    g.setTimeout = (cb: () => void, ms?: number) => this.add(cb, ms, false)
    g.clearInterval = clear
    g.clearTimeout = clear
    try {
      return fn()
    } finally {
      Object.assign(g, saved)
    }
  }

  /** Move virtual time forward by `ms`, running every timer that falls due, in due order. */
  advance(ms: number): void {
    const targetMs = this.nowMs + ms
    for (;;) {
      let next: VirtualTimer | undefined
      for (const t of this.timers.values()) {
        if (t.dueMs <= targetMs && (!next || t.dueMs < next.dueMs)) next = t
      }
      if (!next) break
      this.nowMs = next.dueMs
      if (next.periodMs === undefined) this.timers.delete(next.id)
      else next.dueMs += next.periodMs
      next.cb()
    }
    this.nowMs = targetMs
  }

  /** Drop every timer (the components stop emitting). */
  clear(): void {
    this.timers.clear()
  }

  private add(cb: () => void, ms: number | undefined, repeat: boolean): VirtualHandle {
    // Node clamps delays below 1 ms to 1 ms; so do we, so an interval always advances time.
    const delayMs = Math.max(1, Number.isFinite(ms) ? (ms as number) : 1)
    const id = this.nextId++
    this.timers.set(id, { id, cb, periodMs: repeat ? delayMs : undefined, dueMs: this.nowMs + delayMs })
    const handle: VirtualHandle = {
      virtualTimerId: id,
      ref: () => handle,
      unref: () => handle,
      hasRef: () => false,
    }
    return handle
  }
}

function isVirtualHandle(h: unknown): h is VirtualHandle {
  return typeof h === 'object' && h !== null && 'virtualTimerId' in h
}
