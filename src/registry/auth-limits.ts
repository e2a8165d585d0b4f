/**
 * Limits on device authentication (MQTT CONNECT and HTTP device credentials alike): a budget of
 * failures per client address and per device id, and one time for every refusal.
 */

export interface FailureBudget {
  /** Failures allowed at once. */
  burst: number
  /** Failures the budget regains per minute. */
  perMinute: number
}

export interface DeviceAuthLimitsOptions {
  /**
   * Failed authentications one address may have: a flood from one host is refused before any
   * secret is checked. Only failures count, so the nodes of a village behind one GSM NAT share
   * nothing but their mistakes.
   */
  perAddress: FailureBudget
  /**
   * Failed authentications one device id may have, from any address (guessing spread over many
   * hosts). Unknown ids get budgets exactly like registered ones, else the throttling itself
   * would tell which ids exist. An id's budget does not apply from the address it last
   * authenticated from, so an attacker elsewhere who knows the id cannot keep the device out (a
   * device whose address changed, e.g. behind carrier NAT, can be kept out while the attack lasts).
   */
  perDevice: FailureBudget
  /**
   * Every refusal (unknown id, wrong secret, throttled) is answered no sooner than this after the
   * attempt began, so a legacy scrypt hash (~5 ms) or a busy event loop cannot tell a known id
   * from an unknown one. Successes are not delayed.
   */
  refusalMinMs: number
  /** Addresses and ids tracked at most; beyond, regained budgets are forgotten, then the oldest. */
  maxTrackedKeys: number
}

export const defaultDeviceAuthLimits: DeviceAuthLimitsOptions = {
  perAddress: { burst: 60, perMinute: 60 },
  perDevice: { burst: 20, perMinute: 10 },
  refusalMinMs: 50,
  maxTrackedKeys: 100_000,
}

/** Token buckets of failures by key; a full bucket is not stored at all. */
class FailureBuckets {
  private readonly buckets = new Map<string, { tokens: number; atMs: number }>()
  private readonly budget: FailureBudget
  private readonly maxKeys: number

  constructor(budget: FailureBudget, maxKeys: number) {
    this.budget = budget
    this.maxKeys = maxKeys
  }

  private tokens(key: string, nowMs: number): number {
    const bucket = this.buckets.get(key)
    if (!bucket) return this.budget.burst
    const regained = ((nowMs - bucket.atMs) * this.budget.perMinute) / 60_000
    return Math.min(this.budget.burst, bucket.tokens + regained)
  }

  /** Takes one failure's token before the check; false (nothing taken) when none is left. */
  reserve(key: string, nowMs: number): boolean {
    const tokens = this.tokens(key, nowMs)
    if (tokens < 1) return false
    this.set(key, tokens - 1, nowMs)
    return true
  }

  /** Gives a reserved token back: the attempt succeeded. */
  refund(key: string, nowMs: number): void {
    this.set(key, this.tokens(key, nowMs) + 1, nowMs)
  }

  /** Ms until one token is back (0 if there is one). */
  waitMs(key: string, nowMs: number): number {
    const missing = 1 - this.tokens(key, nowMs)
    return missing <= 0 ? 0 : Math.ceil((missing * 60_000) / this.budget.perMinute)
  }

  private set(key: string, tokens: number, nowMs: number): void {
    if (tokens >= this.budget.burst) {
      this.buckets.delete(key)
      return
    }
    if (!this.buckets.has(key) && this.buckets.size >= this.maxKeys) this.evict(nowMs)
    this.buckets.set(key, { tokens, atMs: nowMs })
  }

  private evict(nowMs: number): void {
    for (const key of [...this.buckets.keys()])
      if (this.tokens(key, nowMs) >= this.budget.burst) this.buckets.delete(key)
    // Still full: a flood of distinct keys. Forget the oldest tenth (they regain their budget).
    if (this.buckets.size >= this.maxKeys) {
      let drop = Math.ceil(this.maxKeys / 10)
      for (const key of this.buckets.keys()) {
        if (drop-- <= 0) break
        this.buckets.delete(key)
      }
    }
  }
}

export type AuthAttempt = { ok: true; release(): void; fail(): void } | { ok: false; retryAfterMs: number }

/** The per-address and per-id failure budgets; one instance serves every transport of a process. */
export class DeviceAuthLimits {
  readonly opts: DeviceAuthLimitsOptions
  private readonly byAddress: FailureBuckets
  private readonly byDevice: FailureBuckets
  /** The address each id last authenticated from: successes only, so registered ids only. */
  private readonly lastGoodAddress = new Map<string, string>()

  constructor(opts: Partial<DeviceAuthLimitsOptions> = {}) {
    this.opts = { ...defaultDeviceAuthLimits, ...opts }
    this.byAddress = new FailureBuckets(this.opts.perAddress, this.opts.maxTrackedKeys)
    this.byDevice = new FailureBuckets(this.opts.perDevice, this.opts.maxTrackedKeys)
  }

  /**
   * Whether `address` has spent its failure budget: every attempt from it would be refused unchecked
   * now, so the broker can close its new sockets before spending anything on them.
   */
  addressThrottled(address: string, nowMs = Date.now()): boolean {
    return this.byAddress.waitMs(address, nowMs) > 0
  }

  /**
   * Reserves one failure of both budgets before the secret is checked, so concurrent attempts
   * cannot all pass a check made before any of them failed. `release()` on success gives both
   * back; `fail()` keeps them spent.
   */
  attempt(id: string, address: string, nowMs = Date.now()): AuthAttempt {
    if (!this.byAddress.reserve(address, nowMs))
      return { ok: false, retryAfterMs: this.byAddress.waitMs(address, nowMs) }
    const perDevice = this.lastGoodAddress.get(id) !== address
    if (perDevice && !this.byDevice.reserve(id, nowMs)) {
      this.byAddress.refund(address, nowMs)
      return { ok: false, retryAfterMs: this.byDevice.waitMs(id, nowMs) }
    }
    let settled = false
    return {
      ok: true,
      release: () => {
        if (settled) return
        settled = true
        const now = Date.now()
        this.byAddress.refund(address, now)
        if (perDevice) this.byDevice.refund(id, now)
        this.lastGoodAddress.set(id, address)
      },
      fail: () => {
        settled = true
      },
    }
  }
}
