import { describe, expect, it } from 'vitest'
import { renderPage } from '../../src/oksigen/certificate/page.ts'
import { verificationRecordSchema } from '../../src/oksigen/certificate/record.ts'
import { estimateTree, type TreeEstimate } from '../../src/oksigen/estimate.ts'
import { measurementProblems } from '../../src/oksigen/repo.ts'
import { chaveHeightM, SPECIES } from '../../src/oksigen/species.ts'
import { draft, T0 } from './certificate-fixtures.ts'

const DAY = 86_400_000
/** A species-like input with the worked example's ρ 0.5. */
const rho05 = {
  id: 'teak' as const,
  woodDensityGCm3: 0.5,
  woodDensitySource: 'worked example',
  woodDensityN: null,
}

describe('estimateTree: biomass from DBH, never from the stem at the dendrometer', () => {
  it('reproduces the Chave worked example: D 10 cm, H 8 m, ρ 0.5 → AGB 23.3 kg, O2 29.2 kg', () => {
    const e = estimateTree({
      species: rho05,
      measurements: [{ atMs: T0, dbhCm: 10, heightM: 8, groUmAt: 0, by: 'registration' }],
      groUm: 0,
    })
    expect(e.method).toBe('chave2014-eq4')
    if (e.method !== 'chave2014-eq4') return
    expect(e).toMatchObject({ dbhCm: 10, heightM: 8, heightSource: 'measured', dbhIncrementCm: 0 })
    expect(e.biomass.agbKg).toBeCloseTo(23.3, 1)
    expect(e.biomass.carbonKg).toBeCloseTo(10.96, 2)
    expect(e.biomass.co2Kg).toBeCloseTo(40.2, 1)
    expect(e.biomass.o2Kg).toBeCloseTo(29.2, 1)
  })

  it('DBH = measured DBH + the dendrometer growth since that measurement (not since planting)', () => {
    const e = estimateTree({
      species: SPECIES.sengon,
      measurements: [
        { atMs: T0, heightM: 1.1, groUmAt: 0, by: 'registration' }, // a sapling: no DBH yet
        { atMs: T0 + 200 * DAY, dbhCm: 6, heightM: 5, groUmAt: 30_000, by: 'officer-1' },
      ],
      groUm: 42_000,
    }) as Extract<TreeEstimate, { method: 'chave2014-eq4' }>
    expect(e.dbhMeasuredCm).toBe(6)
    expect(e.dbhIncrementCm).toBeCloseTo(1.2, 10) // 12 000 µm of diameter since
    expect(e.dbhCm).toBeCloseTo(7.2, 10)
    // the height measured at DBH 6 cm, carried to 7.2 cm by eq. 6a's shape
    expect(e.heightSource).toBe('scaled-from-measured')
    expect(e.heightM).toBeCloseTo((5 * chaveHeightM(7.2)) / chaveHeightM(6), 10)
    expect(e.woodDensityGCm3).toBe(0.29)
    expect(e.biomass.inFittedRange).toBe(true)
  })

  it('without a measured height: Chave 2014 eq. 6a with the stated E', () => {
    const e = estimateTree({
      species: SPECIES.teak,
      measurements: [{ atMs: T0, dbhCm: 12, groUmAt: 0, by: 'registration' }],
      groUm: 0,
      stressE: 0.1,
    }) as Extract<TreeEstimate, { method: 'chave2014-eq4' }>
    expect(e.heightSource).toBe('chave2014-eq6a')
    expect(e.stressE).toBe(0.1)
    expect(e.heightM).toBeCloseTo(chaveHeightM(12, 0.1), 10)
  })

  it('says there is no DBH-based estimate for a sapling below 1.3 m or without a DBH', () => {
    const sapling = estimateTree({
      species: SPECIES.soursop,
      measurements: [{ atMs: T0, heightM: 0.9, groUmAt: 0, by: 'registration' }],
      groUm: 8000,
    })
    expect(sapling).toMatchObject({ method: 'none', note: expect.stringMatching(/below breast height/) })
    const noDbh = estimateTree({ species: SPECIES.soursop, measurements: [], groUm: 8000, initialHeightM: 2 })
    expect(noDbh).toMatchObject({
      method: 'none',
      note: expect.stringMatching(/no diameter at breast height/),
    })
  })

  it('lists every impossible value', () => {
    expect(measurementProblems({ dbhCm: 900, heightM: 0.01, mountHeightCm: 0 })).toEqual([
      expect.stringMatching(/^dbhCm: 900 cm is outside/),
      expect.stringMatching(/^heightM: 0.01 m is outside/),
      expect.stringMatching(/^mountHeightCm: 0 cm is outside/),
      expect.stringMatching(/^dbhCm: a tree 0.01 m tall has no diameter at breast height/),
      expect.stringMatching(/^dbhCm: 900 cm is wider than the tree is tall/),
    ])
    expect(measurementProblems({ dbhCm: 4, heightM: 3, mountHeightCm: 30 })).toEqual([])
  })
})

describe('the certificate states method and inputs', () => {
  const estimate = estimateTree({
    species: SPECIES.sengon,
    measurements: [{ atMs: T0, dbhCm: 6, heightM: 5, groUmAt: 0, by: 'registration' }],
    groUm: 20_000,
  })
  const view = (record: ReturnType<typeof draft>) =>
    renderPage({
      kind: 'valid',
      record: { ...record, keyId: 'k1' },
      keyId: 'k1',
      url: 'https://x/verify/1',
      qrSvg: '<svg/>',
    })

  it('record: DBH, its measurement and increment, the assumption, height source, ρ and its source, MDS', () => {
    const r = draft({
      estimate,
      biomass: undefined,
      biomassInput: undefined,
      evidence: { ...draft().evidence, mdsUm: 31.26, mdsMethod: 'harmonic-peak-to-peak', mountHeightCm: 30 },
    })
    expect(verificationRecordSchema.omit({ keyId: true }).safeParse(r).success).toBe(true)
    expect(r.estimate).toMatchObject({
      method: 'chave2014-eq4',
      diameterKind: 'dbh',
      diameterCm: 8,
      dbhMeasuredCm: 6,
      dbhMeasuredOn: '2025-01-15',
      dbhIncrementCm: 2,
      dbhAssumption: expect.stringMatching(/grows as much at 1.3 m as at the dendrometer/),
      heightSource: 'scaled-from-measured',
      heightMeasuredM: 5,
      woodDensityGCm3: 0.29,
      woodDensitySource: expect.stringMatching(/Global Wood Density Database/),
      woodDensityN: 3,
    })
    expect(r.evidence).toMatchObject({ mdsUm: 31.3, mdsMethod: 'harmonic-peak-to-peak', mountHeightCm: 30 })
    const html = view(r)
    expect(html).toContain('Chave et al. 2014 eq. 4')
    expect(html).toContain('Diameter at breast height (D)')
    expect(html).toContain('measured 6.00 cm on 2025-01-15 + 2.00 cm from the dendrometer')
    expect(html).toContain('Maximum daily shrinkage (MDS)')
    expect(html).toContain('31 µm')
    expect(html).not.toContain('Daily amplitude')
    expect(html).toMatch(/Wood density ρ[\s\S]*0\.29 g\/cm³[\s\S]*Global Wood Density Database/)
    expect(html).toMatch(/≈ \d+\.\d kg O₂/)
  })

  it('no DBH yet: no O2 figure, the note instead', () => {
    const none = estimateTree({
      species: SPECIES.soursop,
      measurements: [],
      groUm: 3000,
      initialHeightM: 0.8,
    })
    const r = draft({ estimate: none, biomass: undefined, biomassInput: undefined })
    expect(r.estimate).toMatchObject({ method: 'none', o2Kg: null, agbKg: null })
    const html = view(r)
    expect(html).toContain('below breast height')
    expect(html).not.toContain('kg O₂')
  })

  it('records signed before issue 14 (stem diameter, no MDS) still validate and say what their D was', () => {
    const old = draft()
    expect(verificationRecordSchema.omit({ keyId: true }).safeParse(old).success).toBe(true)
    const html = view(old)
    expect(html).toContain('stem diameter at the dendrometer (older record, not DBH)')
    expect(html).toContain('Daily amplitude')
  })
})
