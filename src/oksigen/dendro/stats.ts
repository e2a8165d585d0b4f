/** Order statistics on Float64Array prefixes, in place and allocation-free (they run inside push). */

/** Median of the first n values of `a` (reorders them): quickselect, no allocation. */
export function median(a: Float64Array, n: number): number {
  if (n % 2 === 1) return select(a, n, (n - 1) / 2)
  const hi = select(a, n, n / 2)
  // After selecting k = n/2, the lower half holds the values ≤ a[k]: its maximum is the other middle.
  let lo = a[0]!
  for (let i = 1; i < n / 2; i++) if (a[i]! > lo) lo = a[i]!
  return (lo + hi) / 2
}

/** The k-th smallest of the first n values of `a` (Hoare's quickselect, median-of-three pivot). */
export function select(a: Float64Array, n: number, k: number): number {
  let left = 0
  let right = n - 1
  while (right > left) {
    const mid = (left + right) >>> 1
    const x = a[left]!
    const y = a[mid]!
    const z = a[right]!
    const pivot = Math.max(Math.min(x, y), Math.min(Math.max(x, y), z))
    let i = left
    let j = right
    while (i <= j) {
      while (a[i]! < pivot) i++
      while (a[j]! > pivot) j--
      if (i <= j) {
        const t = a[i]!
        a[i] = a[j]!
        a[j] = t
        i++
        j--
      }
    }
    if (k <= j) right = j
    else if (k >= i) left = i
    else break
  }
  return a[k]!
}

/** Median absolute deviation (unscaled) of the first n values of `values`. */
export function mad(values: Float64Array, n: number, scratch: Float64Array): number {
  for (let i = 0; i < n; i++) scratch[i] = values[i]!
  const m = median(scratch, n)
  for (let i = 0; i < n; i++) scratch[i] = Math.abs(values[i]! - m)
  return median(scratch, n)
}

/** R's `quantile(x, p)` (type 7) of an ascending array. */
export function quantileSorted(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length
  if (n === 0) return Number.NaN
  const h = (n - 1) * p
  const lo = Math.floor(h)
  const hi = Math.min(n - 1, lo + 1)
  return sorted[lo]! + (h - lo) * (sorted[hi]! - sorted[lo]!)
}

/**
 * treenetproc's outlier/jump bounds computed exactly as `calcflagmad` does on a whole series
 * (reference for the incremental StepHistogram): steps with |d| < minAbs dropped, the values
 * strictly between the 30 % and 70 % quantiles removed, then q1 − tol·mad and q3 + tol·mad of the
 * rest (type-7 quantiles, MAD scaled by 1.4826). Allocates; not for the hot path.
 */
export function treenetprocBounds(
  steps: ArrayLike<number>,
  tol: number,
  minAbs = 1e-3,
): { low: number; high: number; q1: number; q3: number; madScaled: number } {
  const all = Float64Array.from(steps).filter((d) => Math.abs(d) >= minAbs && Number.isFinite(d))
  all.sort()
  const q30 = quantileSorted(all, 0.3)
  const q70 = quantileSorted(all, 0.7)
  const rest = all.filter((d) => !(d > q30 && d < q70))
  const q1 = quantileSorted(rest, 0.25)
  const q3 = quantileSorted(rest, 0.75)
  const med = quantileSorted(rest, 0.5)
  const dev = rest.map((d) => Math.abs(d - med)).sort()
  const madScaled = 1.4826 * quantileSorted(dev, 0.5)
  return { low: q1 - tol * madScaled, high: q3 + tol * madScaled, q1, q3, madScaled }
}
