import { describe, expect, it } from 'vitest'
import {
  actualVapourPressureKPa,
  atmosphericPressureKPa,
  clearSkyRadiationMJm2,
  daylightHours,
  et0DailyMm,
  et0HourlyMm,
  extraterrestrialRadiationDailyMJm2,
  extraterrestrialRadiationPeriodMJm2,
  inverseRelativeDistanceEarthSun,
  meanSaturationVapourPressureKPa,
  netLongwaveRadiationDailyMJm2,
  netShortwaveRadiationMJm2,
  psychrometricConstantKPaPerC,
  relativeShortwaveRadiation,
  saturationVapourPressureKPa,
  solarDeclinationRad,
  solarRadiationFromSunshineMJm2,
  sunsetHourAngleRad,
  windSpeedAt2mMs,
} from '../../src/agronomy/et0.ts'
import { KampungError } from '../../src/errors.ts'

// Expected values are FAO-56's printed ones, rounded as printed; tolerances follow that rounding.

describe('FAO-56 chapter 3 steps', () => {
  it('atmospheric pressure and γ at 1 800 m (FAO-56 example 2: P 81.8 kPa, γ 0.054)', () => {
    const p = atmosphericPressureKPa(1800)
    expect(p).toBeCloseTo(81.8, 1)
    expect(psychrometricConstantKPaPerC(p)).toBeCloseTo(0.054, 3)
  })

  it('mean saturation vapour pressure, Tmax 24.5 / Tmin 15 °C (FAO-56 example 3: 3.075, 1.705 → 2.39 kPa)', () => {
    expect(saturationVapourPressureKPa(24.5)).toBeCloseTo(3.075, 3)
    expect(saturationVapourPressureKPa(15)).toBeCloseTo(1.705, 3)
    expect(meanSaturationVapourPressureKPa(15, 24.5)).toBeCloseTo(2.39, 2)
  })

  it('actual vapour pressure from RH, Tmin 18 / Tmax 25, RHmax 82 / RHmin 54 (FAO-56 example 5)', () => {
    // e°(Tmin) = 2.064, e°(Tmax) = 3.168; eq. 17 → 1.702, eq. 18 → 1.692, eq. 19 (RHmean 68) → 1.779 kPa
    expect(actualVapourPressureKPa(18, 25, { rhMaxPct: 82, rhMinPct: 54 })).toBeCloseTo(1.702, 3)
    expect(actualVapourPressureKPa(18, 25, { rhMaxPct: 82 })).toBeCloseTo(1.692, 3)
    expect(actualVapourPressureKPa(18, 25, { rhMeanPct: 68 })).toBeCloseTo(1.779, 3)
    expect(actualVapourPressureKPa(18, 25, {})).toBeNull()
  })

  it('Ra at 20° S on 3 September (FAO-56 example 8: J 246, dr 0.985, δ 0.120, ωs 1.527 → 32.2 MJ/m²/day)', () => {
    const phi = (-20 * Math.PI) / 180
    expect(inverseRelativeDistanceEarthSun(246)).toBeCloseTo(0.985, 3)
    expect(solarDeclinationRad(246)).toBeCloseTo(0.12, 3)
    expect(sunsetHourAngleRad(phi, solarDeclinationRad(246))).toBeCloseTo(1.527, 3)
    expect(extraterrestrialRadiationDailyMJm2(-20, 246)).toBeCloseTo(32.2, 1)
  })

  it('daylight hours at 20° S on 3 September (FAO-56 example 9: N 11.7 h)', () => {
    expect(daylightHours(-20, 246)).toBeCloseTo(11.7, 1)
  })

  it('Rs from 220 h sunshine in May at Rio de Janeiro, 22°54′ S (FAO-56 example 10: Ra 25.1, N 10.9, Rs 14.5)', () => {
    const lat = -(22 + 54 / 60)
    const j = 135 // 15 May
    expect(extraterrestrialRadiationDailyMJm2(lat, j)).toBeCloseTo(25.1, 1)
    expect(daylightHours(lat, j)).toBeCloseTo(10.9, 1)
    expect(solarRadiationFromSunshineMJm2(220 / 31, lat, j)).toBeCloseTo(14.5, 1)
  })

  it('net radiation at Rio de Janeiro in May (FAO-56 example 11: Rso 18.8, Rns 11.1, Rnl 3.5 MJ/m²/day)', () => {
    // Inputs: Tmax 25.1, Tmin 19.1 °C, ea 2.1 kPa, Rs 14.5, Ra 25.1 MJ/m²/day, near sea level.
    const rso = clearSkyRadiationMJm2(25.1, 0)
    expect(rso).toBeCloseTo(18.8, 1)
    const rel = relativeShortwaveRadiation(14.5, rso)!
    expect(rel).toBeCloseTo(0.77, 2)
    // 0.77 · 14.5 = 11.165; FAO prints 11.1.
    expect(Math.abs(netShortwaveRadiationMJm2(14.5) - 11.1)).toBeLessThan(0.07)
    const rnl = netLongwaveRadiationDailyMJm2(19.1, 25.1, 2.1, rel)
    expect(rnl).toBeCloseTo(3.5, 1)
    expect(netShortwaveRadiationMJm2(14.5) - rnl).toBeCloseTo(7.6, 1)
  })

  it('wind at 10 m, 3.2 m/s → 2.4 m/s at 2 m (FAO-56 eq. 47, its chapter 3 wind example)', () => {
    expect(windSpeedAt2mMs(3.2, 10)).toBeCloseTo(2.4, 1)
    expect(windSpeedAt2mMs(3.2, 2)).toBe(3.2)
  })
})

describe('et0DailyMm', () => {
  it('Brussels, 6 July (FAO-56 example 17: ET0 3.9 mm/day)', () => {
    // 50°48′ N, 100 m; Tmax 21.5, Tmin 12.3 °C; RHmax 84, RHmin 63 %; wind 10 km/h at 10 m; n 9.25 h.
    const lat = 50 + 48 / 60
    const rs = solarRadiationFromSunshineMJm2(9.25, lat, 187)
    expect(rs).toBeCloseTo(22.07, 2)
    const r = et0DailyMm({
      tMinC: 12.3,
      tMaxC: 21.5,
      rhMaxPct: 84,
      rhMinPct: 63,
      windSpeedMs: 10 / 3.6,
      windHeightM: 10,
      solarRadiationMJm2: rs,
      latitudeDeg: lat,
      elevationM: 100,
      dayOfYear: 187,
    })
    // Printed intermediates: Δ 0.122, P 100.1, γ 0.0666, es 1.997, ea 1.409, u2 2.078,
    // Ra 41.09, Rso 30.90, Rns 17.00, Rnl 3.71, Rn 13.28.
    expect(r.steps.deltaKPaPerC).toBeCloseTo(0.122, 3)
    expect(r.steps.pressureKPa).toBeCloseTo(100.1, 1)
    expect(r.steps.gammaKPaPerC).toBeCloseTo(0.0666, 4)
    expect(r.steps.esKPa).toBeCloseTo(1.997, 3)
    expect(r.steps.eaKPa).toBeCloseTo(1.409, 3)
    expect(r.steps.u2Ms).toBeCloseTo(2.078, 3)
    expect(r.steps.raMJm2).toBeCloseTo(41.09, 2)
    expect(r.steps.rsoMJm2).toBeCloseTo(30.9, 2)
    expect(r.steps.rnsMJm2).toBeCloseTo(17.0, 1)
    expect(r.steps.rnlMJm2).toBeCloseTo(3.71, 2)
    expect(r.steps.rnMJm2).toBeCloseTo(13.28, 2)
    expect(r.steps.gMJm2).toBe(0)
    expect(r.et0Mm).toBeCloseTo(3.9, 1)
  })

  it('Bangkok, April monthly means (FAO-56 example 18: ET0 5.72 mm/day)', () => {
    // 13°44′ N, 2 m; Tmax 34.8, Tmin 25.6 °C; ea 2.85 kPa; u2 2 m/s; n 8.5 h; G (eq. 44) 0.14.
    const lat = 13 + 44 / 60
    const rs = solarRadiationFromSunshineMJm2(8.5, lat, 105)
    expect(rs).toBeCloseTo(22.65, 2)
    const r = et0DailyMm({
      tMinC: 25.6,
      tMaxC: 34.8,
      actualVapourPressureKPa: 2.85,
      windSpeedMs: 2,
      solarRadiationMJm2: rs,
      latitudeDeg: lat,
      elevationM: 2,
      dayOfYear: 105,
      soilHeatFluxMJm2: 0.14,
    })
    expect(r.steps.deltaKPaPerC).toBeCloseTo(0.246, 3)
    expect(r.steps.esKPa).toBeCloseTo(4.42, 2)
    expect(r.steps.raMJm2).toBeCloseTo(38.06, 2)
    expect(r.steps.rnMJm2).toBeCloseTo(14.33, 2)
    expect(r.et0Mm).toBeCloseTo(5.72, 2)
  })

  it('reports every bad input at once, as a non-retryable error', () => {
    let err: unknown
    try {
      et0DailyMm({
        tMinC: 30,
        tMaxC: 20,
        rhMinPct: 120,
        windSpeedMs: -1,
        solarRadiationMJm2: 20,
        latitudeDeg: -8.2,
        elevationM: 50,
        dayOfYear: 400,
      })
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(KampungError)
    const ke = err as KampungError
    expect(ke.retryable).toBe(false)
    for (const part of ['rhMinPct', 'tMinC (30) is above', 'windSpeedMs', 'dayOfYear', 'relative humidity']) {
      expect(ke.message).toContain(part)
    }
  })

  it('gives a plausible Banyuwangi dry-season day (≈ 4–6 mm/day)', () => {
    const r = et0DailyMm({
      tMinC: 22,
      tMaxC: 32,
      rhMaxPct: 90,
      rhMinPct: 55,
      windSpeedMs: 2.5,
      solarRadiationMJm2: 20,
      latitudeDeg: -8.22,
      elevationM: 60,
      dayOfYear: 213,
    })
    expect(r.et0Mm).toBeGreaterThan(4)
    expect(r.et0Mm).toBeLessThan(6)
  })
})

describe('et0HourlyMm', () => {
  // FAO-56 example 19: N'Diaye, Senegal (16°13′ N, 16°15′ W, 8 m), 1 October, clock on GMT.
  const site = {
    latitudeDeg: 16 + 13 / 60,
    longitudeDegE: -(16 + 15 / 60),
    timeZoneCentreDegE: 0,
    elevationM: 8,
    dayOfYear: 274,
  }

  it('14:00–15:00: 38 °C, RH 52 %, u2 3.3 m/s, Rs 2.450 MJ/m²/h → ET0 0.63 mm/h (FAO-56 example 19)', () => {
    const r = et0HourlyMm({
      ...site,
      tC: 38,
      rhPct: 52,
      windSpeedMs: 3.3,
      solarRadiationMJm2: 2.45,
      clockMidpointHours: 14.5,
    })
    expect(r.steps.daytime).toBe(true)
    expect(r.steps.deltaKPaPerC).toBeCloseTo(0.358, 3)
    expect(r.steps.esKPa).toBeCloseTo(6.625, 3)
    expect(r.steps.eaKPa).toBeCloseTo(3.445, 3)
    expect(r.steps.gMJm2).toBeCloseTo(0.1 * r.steps.rnMJm2, 10)
    expect(r.et0Mm).toBeCloseTo(0.63, 2)
  })

  it('02:00–03:00: 28 °C, RH 90 %, u2 1.9 m/s, night → ET0 ≈ 0 mm/h, G = 0.5 Rn (FAO-56 example 19)', () => {
    const r = et0HourlyMm({
      ...site,
      tC: 28,
      rhPct: 90,
      windSpeedMs: 1.9,
      solarRadiationMJm2: 0,
      clockMidpointHours: 2.5,
    })
    expect(r.steps.daytime).toBe(false)
    expect(r.steps.raMJm2).toBe(0)
    expect(r.steps.rnMJm2).toBeCloseTo(-0.1, 2)
    expect(r.steps.gMJm2).toBeCloseTo(0.5 * r.steps.rnMJm2, 10)
    expect(r.et0Mm).toBeCloseTo(0, 1)
  })

  it('hourly Ra over a whole day adds up to the daily Ra (eq. 28 vs eq. 21)', () => {
    const banyuwangi = { latitudeDeg: -8.22, longitudeDegE: 114.37, timeZoneCentreDegE: 105, dayOfYear: 200 }
    let sum = 0
    for (let h = 0; h < 24; h++)
      sum += extraterrestrialRadiationPeriodMJm2({ ...banyuwangi, clockMidpointHours: h + 0.5 })
    expect(sum).toBeCloseTo(extraterrestrialRadiationDailyMJm2(-8.22, 200), 6)
  })
})
