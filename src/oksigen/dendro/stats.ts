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
