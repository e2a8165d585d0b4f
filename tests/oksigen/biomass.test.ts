import { describe, expect, it } from 'vitest'
import { SPECIES as SIM_SPECIES } from '../../firmware-sim/models/stem.ts'
import { KampungError } from '../../src/errors.ts'
import { CHAVE2014_EQ4, estimateBiomass } from '../../src/oksigen/biomass.ts'
import {
  chaveHeightM,
  DEFAULT_HEIGHT_STRESS_E,
  estimateHeightM,
  getSpecies,
  isLeaflessMonth,
  SPECIES,
  SPECIES_IDS,
} from '../../src/oksigen/species.ts'

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

  it('takes wood densities from the GWDD with source, n and range; no value is marked checked that was not', () => {
    for (const s of Object.values(SPECIES)) {
      expect(s.woodDensityGCm3).toBeGreaterThanOrEqual(s.woodDensityRangeGCm3[0])
      expect(s.woodDensityGCm3).toBeLessThanOrEqual(s.woodDensityRangeGCm3[1])
      expect(s.woodDensitySource).toMatch(/Global Wood Density Database/)
      expect(s.woodDensityN).toBeGreaterThan(0)
      expect(s.woodDensityChecked).toBe(false) // compared with DOMAIN.md's extract, not the GWDD file
    }
    // the corrections of issue 14 (GWDD v1 species means)
    expect(SPECIES.soursop.woodDensityGCm3).toBe(0.36)
    expect(SPECIES.durian.woodDensityGCm3).toBe(0.52)
    expect(SPECIES.teak.woodDensityGCm3).toBe(0.6)
    expect(SPECIES.teak.woodDensityN).toBe(36)
    expect(SPECIES.sengon.woodDensityGCm3).toBe(0.29)
    expect(SPECIES.sengon.scientificName).toBe('Falcataria falcata')
    expect(getSpecies('sengon')?.synonyms).toEqual(
      expect.arrayContaining(['Falcataria moluccana', 'Paraserianthes falcataria', 'Albizia falcataria']),
    )
    expect(getSpecies('trembesi')?.synonyms).toContain('Pithecellobium saman')
    expect(getSpecies('oak')).toBeUndefined()
  })

  it('puts teak leafless in July–October and keeps the others evergreen', () => {
    expect([6, 7, 8, 9, 10, 11].map((m) => isLeaflessMonth(SPECIES.teak, m))).toEqual([
      false,
      true,
      true,
      true,
      true,
      false,
    ])
    for (const id of SPECIES_IDS.filter((s) => s !== 'teak'))
      expect(SPECIES[id].phenology.leafless).toBeNull()
  })

  it('estimates height by Chave 2014 eq. 6a with a stated E, or from a measurement', () => {
    // the figure: sengon at D 40 cm is 25.4 m with E = 0 (the old power law said 38.7 m)
    const h40 = estimateHeightM('sengon', 40)
    expect(h40.source).toBe('chave2014-eq6a')
    expect(h40.stressE).toBe(DEFAULT_HEIGHT_STRESS_E)
    expect(h40.heightM).toBeCloseTo(25.36, 1)
    // ln H = 0.893 − E + 0.760 ln D − 0.0340 (ln D)², by hand at D 10 cm, E 0.2
    const lnD = Math.log(10)
    expect(chaveHeightM(10, 0.2)).toBeCloseTo(Math.exp(0.893 - 0.2 + 0.76 * lnD - 0.034 * lnD * lnD), 10)
    expect(estimateHeightM('teak', 10, undefined, { stressE: 0.2 }).heightM).toBeCloseTo(
      chaveHeightM(10, 0.2),
      10,
    )
    // a measurement at this diameter is the height; at another diameter eq. 6a's shape scales it
    expect(estimateHeightM('teak', 8, { heightM: 6, diameterCm: 8 })).toEqual({
      heightM: 6,
      source: 'measured',
    })
    const scaled = estimateHeightM('sengon', 16, { heightM: 9, diameterCm: 8 })
    expect(scaled.source).toBe('scaled-from-measured')
    expect(scaled.heightM).toBeCloseTo((9 * chaveHeightM(16)) / chaveHeightM(8), 10)
  })
})
