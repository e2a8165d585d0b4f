import { describe, expect, it } from 'vitest'
import { SPECIES as SIM_SPECIES } from '../../firmware-sim/models/stem.ts'
import { KampungError } from '../../src/errors.ts'
import { CHAVE2014_EQ4, estimateBiomass } from '../../src/oksigen/biomass.ts'
import { estimateHeightM, getSpecies, SPECIES, SPECIES_IDS } from '../../src/oksigen/species.ts'

describe('estimateBiomass (Chave et al. 2014 eq. 4)', () => {
  it('reproduces the worked example: D 10 cm, H 8 m, ρ 0.5', () => {
    const e = estimateBiomass({ diameterCm: 10, heightM: 8, woodDensity: 0.5 })
    expect(e.inFittedRange).toBe(true)
    expect(e.agbKg).toBeCloseTo(23.3, 1)
    expect(e.carbonKg).toBeCloseTo(10.96, 1)
    expect(e.co2Kg).toBeCloseTo(40.2, 1)
    expect(e.o2Kg).toBeCloseTo(29.2, 1)
    expect(e.note).toBeUndefined()
  })

  it('keeps the molar ratios exact: O2 = C · 32/12', () => {
    const e = estimateBiomass({ diameterCm: 25, heightM: 18, woodDensity: 0.55 })
    expect(e.o2Kg! / e.carbonKg!).toBeCloseTo(32 / 12, 12)
    expect(e.carbonKg! / e.agbKg!).toBeCloseTo(0.47, 12)
  })

  it('gives no number below the fitted range (D 3 cm), only a note', () => {
    const e = estimateBiomass({ diameterCm: 3, heightM: 2.5, woodDensity: 0.3 })
    expect(e.inFittedRange).toBe(false)
    expect(e.agbKg).toBeNull()
    expect(e.carbonKg).toBeNull()
    expect(e.co2Kg).toBeNull()
    expect(e.o2Kg).toBeNull()
    expect(e.note).toMatch(/outside the fitted range/i)
    expect(e.extrapolated).toBeUndefined()
  })

  it('gives a rough extrapolation only when asked, labelled as such', () => {
    const e = estimateBiomass({ diameterCm: 3, heightM: 2.5, woodDensity: 0.3 }, { extrapolate: true })
    expect(e.o2Kg).toBeNull()
    expect(e.extrapolated?.rough).toBe(true)
    expect(e.extrapolated?.agbKg).toBeGreaterThan(0)
  })

  it('treats exactly 5 cm as in range', () => {
    expect(
      estimateBiomass({ diameterCm: CHAVE2014_EQ4.minDiameterCm, heightM: 5, woodDensity: 0.5 })
        .inFittedRange,
    ).toBe(true)
  })

  it('rejects bad inputs, listing every problem', () => {
    const bad = () => estimateBiomass({ diameterCm: -1, heightM: Number.NaN, woodDensity: 500 })
    expect(bad).toThrow(KampungError)
    expect(bad).toThrow(/diameterCm.*heightM.*woodDensity.*kg\/m³/)
    expect(() => estimateBiomass({ diameterCm: 0, heightM: 1, woodDensity: 0.5 })).toThrow(/diameterCm/)
    expect(() => estimateBiomass({ diameterCm: 10, heightM: Infinity, woodDensity: 0.5 })).toThrow(/heightM/)
  })
})

describe('species table', () => {
  it('has the six species handed out, with growth rates matching the simulator', () => {
    expect([...SPECIES_IDS].sort()).toEqual(Object.keys(SIM_SPECIES).sort())
    for (const id of SPECIES_IDS) {
      expect(SPECIES[id].diameterGrowthMmPerYear).toBe(SIM_SPECIES[id].diameterGrowthMmPerYear)
      expect(SPECIES[id].scientificName).toBe(SIM_SPECIES[id].scientificName)
    }
  })

  it('has plausible wood densities inside their stated ranges', () => {
    for (const s of Object.values(SPECIES)) {
      expect(s.woodDensityGCm3).toBeGreaterThanOrEqual(s.woodDensityRangeGCm3[0])
      expect(s.woodDensityGCm3).toBeLessThanOrEqual(s.woodDensityRangeGCm3[1])
      expect(s.woodDensityGCm3).toBeGreaterThan(0.2)
      expect(s.woodDensityGCm3).toBeLessThan(0.9)
    }
    expect(SPECIES.sengon.woodDensityGCm3).toBeLessThan(SPECIES.teak.woodDensityGCm3)
    expect(getSpecies('sengon')?.synonyms).toContain('Paraserianthes falcataria')
    expect(getSpecies('oak')).toBeUndefined()
  })

  it('estimates sapling height from diameter, preferring a measured reference', () => {
    const a = estimateHeightM('teak', 10)
    expect(a.source).toBe('allometry')
    expect(a.heightM).toBeGreaterThan(6)
    expect(a.heightM).toBeLessThan(14)
    const small = estimateHeightM('soursop', 1.2)
    expect(small.heightM).toBeGreaterThan(0.5)
    expect(small.heightM).toBeLessThan(2)
    const scaled = estimateHeightM('sengon', 3, { heightM: 1.5, diameterCm: 1.5 })
    expect(scaled.source).toBe('scaled-from-measured')
    expect(scaled.heightM).toBeCloseTo(1.5 * 2 ** SPECIES.sengon.heightDiameter.b, 6)
    expect(estimateHeightM('soursop', 500).heightM).toBe(SPECIES.soursop.heightDiameter.maxHeightM)
  })
})
