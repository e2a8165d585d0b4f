import { describe, expect, it } from 'vitest'
import { mulberry32 } from '../../firmware-sim/models/index.ts'
import { mad, median } from '../../src/oksigen/dendro/stats.ts'

describe('dendro order statistics', () => {
  it('median and MAD agree with a full sort, for odd and even lengths, with ties', () => {
    const rnd = mulberry32(4)
    for (let trial = 0; trial < 300; trial++) {
      const n = 1 + Math.floor(rnd() * 60)
      const values = Float64Array.from({ length: n }, () => Math.round(rnd() * 20) - 10)
      const sorted = Array.from(values).sort((a, b) => a - b)
      const med = n % 2 === 1 ? sorted[(n - 1) / 2]! : (sorted[n / 2 - 1]! + sorted[n / 2]!) / 2
      const dev = sorted.map((v) => Math.abs(v - med)).sort((a, b) => a - b)
      const expectedMad = n % 2 === 1 ? dev[(n - 1) / 2]! : (dev[n / 2 - 1]! + dev[n / 2]!) / 2
      expect(median(Float64Array.from(values), n)).toBe(med)
      expect(mad(values, n, new Float64Array(n))).toBe(expectedMad)
    }
  })
})
