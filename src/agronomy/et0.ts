import { KampungError } from '../errors.ts'

/**
 * FAO-56 Penman–Monteith reference evapotranspiration (Allen, Pereira, Raes & Smith 1998, FAO
 * Irrigation and Drainage Paper 56, chapters 3–4). Every step is its own function named after the
 * quantity it returns and tagged with its equation number, so each can be checked against the
 * paper's worked examples. Angles are radians unless the name says `Deg`.
 */

/** Solar constant Gsc [MJ m⁻² min⁻¹] (eq. 21). */
export const SOLAR_CONSTANT_MJM2MIN = 0.082
/** Stefan–Boltzmann constant per day [MJ K⁻⁴ m⁻² day⁻¹] (eq. 39). */
export const STEFAN_BOLTZMANN_MJK4M2DAY = 4.903e-9
/** Stefan–Boltzmann constant per hour [MJ K⁻⁴ m⁻² h⁻¹] (eq. 39, hourly form). */
export const STEFAN_BOLTZMANN_MJK4M2HOUR = 2.043e-10
/** Albedo of the hypothetical grass reference crop (eq. 38). */
export const REFERENCE_ALBEDO = 0.23
/** Standard height of wind measurement for the reference equation [m]. */
export const STANDARD_WIND_HEIGHT_M = 2
const KELVIN_OFFSET = 273.16
/** Eq. 6 uses 273 rather than 273.16 for the virtual-temperature term; kept as FAO writes it. */
const ET0_KELVIN_OFFSET = 273

/** Degrees → radians (eq. 22). */
export function degToRad(deg: number): number {
  return (Math.PI / 180) * deg
}

/** Atmospheric pressure P [kPa] at elevation z [m] (eq. 7). */
export function atmosphericPressureKPa(elevationM: number): number {
  return 101.3 * ((293 - 0.0065 * elevationM) / 293) ** 5.26
}

/** Psychrometric constant γ [kPa °C⁻¹] from pressure (eq. 8: γ = 0.665·10⁻³ P). */
export function psychrometricConstantKPaPerC(pressureKPa: number): number {
  return 0.665e-3 * pressureKPa
}

/** Saturation vapour pressure e°(T) [kPa] at air temperature T [°C] (eq. 11). */
export function saturationVapourPressureKPa(tC: number): number {
  return 0.6108 * Math.exp((17.27 * tC) / (tC + 237.3))
}

/** Mean saturation vapour pressure es [kPa] = (e°(Tmax) + e°(Tmin)) / 2 (eq. 12). */
export function meanSaturationVapourPressureKPa(tMinC: number, tMaxC: number): number {
  return (saturationVapourPressureKPa(tMaxC) + saturationVapourPressureKPa(tMinC)) / 2
}

/** Slope Δ of the saturation vapour pressure curve [kPa °C⁻¹] at T [°C] (eq. 13). */
export function saturationSlopeKPaPerC(tC: number): number {
  return (4098 * saturationVapourPressureKPa(tC)) / (tC + 237.3) ** 2
}

export interface HumidityInput {
  rhMinPct?: number
  rhMaxPct?: number
  rhMeanPct?: number
}

/**
 * Actual vapour pressure ea [kPa] from whichever relative humidity is available, in FAO-56's order
 * of preference: RHmax and RHmin (eq. 17), RHmax alone (eq. 18, when RHmin is unreliable),
 * RHmean (eq. 19, the least reliable). Returns null when no humidity is given.
 */
export function actualVapourPressureKPa(tMinC: number, tMaxC: number, rh: HumidityInput): number | null {
  const eTMin = saturationVapourPressureKPa(tMinC)
  const eTMax = saturationVapourPressureKPa(tMaxC)
  if (rh.rhMaxPct !== undefined && rh.rhMinPct !== undefined) {
    return (eTMin * (rh.rhMaxPct / 100) + eTMax * (rh.rhMinPct / 100)) / 2
  }
  if (rh.rhMaxPct !== undefined) return eTMin * (rh.rhMaxPct / 100)
  if (rh.rhMeanPct !== undefined) return (rh.rhMeanPct / 100) * ((eTMax + eTMin) / 2)
  return null
}

/**
 * Wind speed at 2 m u2 [m s⁻¹] from a measurement uz at height z [m] above the ground, for a
 * logarithmic profile over short grass (eq. 47).
 */
export function windSpeedAt2mMs(windSpeedMs: number, heightM: number): number {
  if (heightM === STANDARD_WIND_HEIGHT_M) return windSpeedMs
  return (windSpeedMs * 4.87) / Math.log(67.8 * heightM - 5.42)
}

/** Inverse relative Earth–Sun distance dr (eq. 23). */
export function inverseRelativeDistanceEarthSun(dayOfYear: number): number {
  return 1 + 0.033 * Math.cos(((2 * Math.PI) / 365) * dayOfYear)
}

/** Solar declination δ [rad] (eq. 24). */
export function solarDeclinationRad(dayOfYear: number): number {
  return 0.409 * Math.sin(((2 * Math.PI) / 365) * dayOfYear - 1.39)
}

/** Sunset hour angle ωs [rad] (eq. 25); clamped so polar day and night do not produce NaN. */
export function sunsetHourAngleRad(latitudeRad: number, declinationRad: number): number {
  const x = -Math.tan(latitudeRad) * Math.tan(declinationRad)
  return Math.acos(Math.min(1, Math.max(-1, x)))
}

/** Extraterrestrial radiation for daily periods Ra [MJ m⁻² day⁻¹] (eq. 21). */
export function extraterrestrialRadiationDailyMJm2(latitudeDeg: number, dayOfYear: number): number {
  const phi = degToRad(latitudeDeg)
  const dr = inverseRelativeDistanceEarthSun(dayOfYear)
  const delta = solarDeclinationRad(dayOfYear)
  const ws = sunsetHourAngleRad(phi, delta)
  return (
    ((24 * 60) / Math.PI) *
    SOLAR_CONSTANT_MJM2MIN *
    dr *
    (ws * Math.sin(phi) * Math.sin(delta) + Math.cos(phi) * Math.cos(delta) * Math.sin(ws))
  )
}

/** Daylight hours N [h] (eq. 34). */
export function daylightHours(latitudeDeg: number, dayOfYear: number): number {
  return (24 / Math.PI) * sunsetHourAngleRad(degToRad(latitudeDeg), solarDeclinationRad(dayOfYear))
}

/**
 * Solar radiation Rs [MJ m⁻² day⁻¹] from sunshine duration n [h] with the Ångström formula
 * (eq. 35), FAO's default as = 0.25, bs = 0.50 when no local calibration exists.
 */
export function solarRadiationFromSunshineMJm2(
  sunshineHours: number,
  latitudeDeg: number,
  dayOfYear: number,
  angstrom: { as: number; bs: number } = { as: 0.25, bs: 0.5 },
): number {
  const ra = extraterrestrialRadiationDailyMJm2(latitudeDeg, dayOfYear)
  const n = daylightHours(latitudeDeg, dayOfYear)
  return (angstrom.as + angstrom.bs * (sunshineHours / n)) * ra
}

/** Clear-sky solar radiation Rso [MJ m⁻² per period] from Ra and elevation (eq. 37). */
export function clearSkyRadiationMJm2(extraterrestrialMJm2: number, elevationM: number): number {
  return (0.75 + 2e-5 * elevationM) * extraterrestrialMJm2
}

/** Net shortwave radiation Rns [MJ m⁻² per period] (eq. 38), albedo 0.23 for the reference grass. */
export function netShortwaveRadiationMJm2(solarRadiationMJm2: number, albedo = REFERENCE_ALBEDO): number {
  return (1 - albedo) * solarRadiationMJm2
}

/**
 * Relative shortwave radiation Rs/Rso, limited to ≤ 1.0 as eq. 39 requires (a measured Rs can
 * exceed the modelled Rso on a bright day). Zero Rso (night) gives null: the caller must supply a
 * ratio from earlier in the day.
 */
export function relativeShortwaveRadiation(solarRadiationMJm2: number, clearSkyMJm2: number): number | null {
  if (clearSkyMJm2 <= 0) return null
  return Math.min(1, solarRadiationMJm2 / clearSkyMJm2)
}

/**
 * Net outgoing longwave radiation Rnl [MJ m⁻² day⁻¹] (eq. 39):
 *   σ·(Tmax,K⁴ + Tmin,K⁴)/2 · (0.34 − 0.14 √ea) · (1.35 Rs/Rso − 0.35)
 */
export function netLongwaveRadiationDailyMJm2(
  tMinC: number,
  tMaxC: number,
  actualVapourPressureKPa: number,
  relativeShortwave: number,
): number {
  const tMaxK4 = (tMaxC + KELVIN_OFFSET) ** 4
  const tMinK4 = (tMinC + KELVIN_OFFSET) ** 4
  return (
    STEFAN_BOLTZMANN_MJK4M2DAY *
    ((tMaxK4 + tMinK4) / 2) *
    (0.34 - 0.14 * Math.sqrt(actualVapourPressureKPa)) *
    (1.35 * relativeShortwave - 0.35)
  )
}

/** Net radiation Rn = Rns − Rnl [MJ m⁻² per period] (eq. 40). */
export function netRadiationMJm2(netShortwaveMJm2: number, netLongwaveMJm2: number): number {
  return netShortwaveMJm2 - netLongwaveMJm2
}

/**
 * Soil heat flux for monthly periods G [MJ m⁻² day⁻¹] from the mean air temperatures of the
 * previous and next month (eq. 43), or of the previous and current month when the next is not
 * known yet (eq. 44).
 */
export function soilHeatFluxMonthlyMJm2(
  previousMonthMeanC: number,
  nextOrCurrentMonthMeanC: number,
  which: 'next' | 'current',
): number {
  const coeff = which === 'next' ? 0.07 : 0.14
  return coeff * (nextOrCurrentMonthMeanC - previousMonthMeanC)
}

export interface Et0DailyInput extends HumidityInput {
  tMinC: number
  tMaxC: number
  /** Actual vapour pressure ea [kPa] when measured directly (e.g. a dewpoint sensor); wins over RH. */
  actualVapourPressureKPa?: number
  windSpeedMs: number
  /** Height of the anemometer [m]; converted to 2 m with eq. 47. */
  windHeightM?: number
  /** Incoming solar (shortwave) radiation Rs [MJ m⁻² day⁻¹], e.g. from a pyranometer. */
  solarRadiationMJm2: number
  latitudeDeg: number
  elevationM: number
  /** Day of the year J, 1 = 1 January. */
  dayOfYear: number
  /** Soil heat flux G [MJ m⁻² day⁻¹]; 0 for daily steps (eq. 42), eq. 43/44 for monthly means. */
  soilHeatFluxMJm2?: number
}

export interface Et0Daily {
  et0Mm: number
  /** Every intermediate, named as in FAO-56, so a result can be checked by hand. */
  steps: {
    tMeanC: number
    pressureKPa: number
    gammaKPaPerC: number
    deltaKPaPerC: number
    esKPa: number
    eaKPa: number
    u2Ms: number
    raMJm2: number
    rsoMJm2: number
    rnsMJm2: number
    rnlMJm2: number
    rnMJm2: number
    gMJm2: number
  }
}

function invalid(problems: string[]): KampungError {
  return new KampungError('invalid_agronomy_input', problems.join('; '), { retryable: false })
}

function checkFinite(values: Record<string, number | undefined>, problems: string[]): void {
  for (const [name, v] of Object.entries(values)) {
    if (v !== undefined && !Number.isFinite(v)) problems.push(`${name} must be a finite number, got ${v}`)
  }
}

function checkRh(rh: HumidityInput, problems: string[]): void {
  const values = { rhMinPct: rh.rhMinPct, rhMaxPct: rh.rhMaxPct, rhMeanPct: rh.rhMeanPct }
  for (const [name, v] of Object.entries(values)) {
    if (v !== undefined && (v < 0 || v > 100)) problems.push(`${name} must be 0..100, got ${v}`)
  }
}

/**
 * Daily reference evapotranspiration ET0 [mm day⁻¹] (FAO-56 eq. 6):
 *   ET0 = [0.408 Δ (Rn − G) + γ · 900/(T + 273) · u2 · (es − ea)] / [Δ + γ (1 + 0.34 u2)]
 * with T the mean of Tmax and Tmin (eq. 9). Also used for monthly means (FAO-56 Example 17) with G
 * from eq. 43/44. Throws a non-retryable KampungError listing every bad input.
 */
export function et0DailyMm(input: Et0DailyInput): Et0Daily {
  const problems: string[] = []
  checkFinite(
    {
      tMinC: input.tMinC,
      tMaxC: input.tMaxC,
      windSpeedMs: input.windSpeedMs,
      solarRadiationMJm2: input.solarRadiationMJm2,
      latitudeDeg: input.latitudeDeg,
      elevationM: input.elevationM,
      dayOfYear: input.dayOfYear,
      actualVapourPressureKPa: input.actualVapourPressureKPa,
      windHeightM: input.windHeightM,
      soilHeatFluxMJm2: input.soilHeatFluxMJm2,
    },
    problems,
  )
  checkRh(input, problems)
  if (input.tMinC > input.tMaxC) problems.push(`tMinC (${input.tMinC}) is above tMaxC (${input.tMaxC})`)
  if (input.windSpeedMs < 0) problems.push('windSpeedMs must be ≥ 0')
  if (input.solarRadiationMJm2 < 0) problems.push('solarRadiationMJm2 must be ≥ 0')
  if (Math.abs(input.latitudeDeg) > 90) problems.push('latitudeDeg must be within ±90')
  if (input.dayOfYear < 1 || input.dayOfYear > 366) problems.push('dayOfYear must be 1..366')
  // eq. 47 breaks down below ~0.1 m (the log argument goes non-positive); an anemometer is never that low.
  if (input.windHeightM !== undefined && input.windHeightM < 0.5) problems.push('windHeightM must be ≥ 0.5')
  const eaGiven = input.actualVapourPressureKPa
  const eaFromRh = actualVapourPressureKPa(input.tMinC, input.tMaxC, input)
  const ea = eaGiven ?? eaFromRh
  if (ea === null) problems.push('give actualVapourPressureKPa or a relative humidity (rhMin/rhMax/rhMean)')
  if (problems.length > 0 || ea === null) throw invalid(problems)

  const tMeanC = (input.tMinC + input.tMaxC) / 2
  const pressureKPa = atmosphericPressureKPa(input.elevationM)
  const gammaKPaPerC = psychrometricConstantKPaPerC(pressureKPa)
  const deltaKPaPerC = saturationSlopeKPaPerC(tMeanC)
  const esKPa = meanSaturationVapourPressureKPa(input.tMinC, input.tMaxC)
  const u2Ms = windSpeedAt2mMs(input.windSpeedMs, input.windHeightM ?? STANDARD_WIND_HEIGHT_M)
  const raMJm2 = extraterrestrialRadiationDailyMJm2(input.latitudeDeg, input.dayOfYear)
  const rsoMJm2 = clearSkyRadiationMJm2(raMJm2, input.elevationM)
  const rnsMJm2 = netShortwaveRadiationMJm2(input.solarRadiationMJm2)
  // Polar night only (Rso = 0): no shortwave, so take the overcast end of the range.
  const relRs = relativeShortwaveRadiation(input.solarRadiationMJm2, rsoMJm2) ?? 0.3
  const rnlMJm2 = netLongwaveRadiationDailyMJm2(input.tMinC, input.tMaxC, ea, relRs)
  const rnMJm2 = netRadiationMJm2(rnsMJm2, rnlMJm2)
  const gMJm2 = input.soilHeatFluxMJm2 ?? 0

  const et0 =
    (0.408 * deltaKPaPerC * (rnMJm2 - gMJm2) +
      gammaKPaPerC * (900 / (tMeanC + ET0_KELVIN_OFFSET)) * u2Ms * (esKPa - ea)) /
    (deltaKPaPerC + gammaKPaPerC * (1 + 0.34 * u2Ms))

  return {
    // A slightly negative value (dewfall on a humid, dull day) means no evaporative demand.
    et0Mm: Math.max(0, et0),
    steps: {
      tMeanC,
      pressureKPa,
      gammaKPaPerC,
      deltaKPaPerC,
      esKPa,
      eaKPa: ea,
      u2Ms,
      raMJm2,
      rsoMJm2,
      rnsMJm2,
      rnlMJm2,
      rnMJm2,
      gMJm2,
    },
  }
}

// ---------------------------------------------------------------------------------------------
// Hourly (FAO-56 eq. 53, with Ra for periods shorter than a day, eq. 28–33)

/** Seasonal correction for solar time Sc [h] (eq. 32, 33). */
export function seasonalCorrectionHours(dayOfYear: number): number {
  const b = (2 * Math.PI * (dayOfYear - 81)) / 364
  return 0.1645 * Math.sin(2 * b) - 0.1255 * Math.cos(b) - 0.025 * Math.sin(b)
}

/**
 * Solar time angle ω at the midpoint of the period [rad] (eq. 31). FAO writes longitudes in
 * degrees west of Greenwich (Lz − Lm); here they are east-positive, as GPS gives them, so the
 * correction is (Lm,E − Lz,E)/15 h. For WIB (Asia/Jakarta, UTC+7) the zone centre is 105° E;
 * FAO-56 Example 19 (N'Diaye, 16°15′ W) takes Lz = 15° W, i.e. −15 here.
 */
export function solarTimeAngleRad(
  clockMidpointHours: number,
  longitudeDegE: number,
  timeZoneCentreDegE: number,
  dayOfYear: number,
): number {
  const solarHours =
    clockMidpointHours + (longitudeDegE - timeZoneCentreDegE) / 15 + seasonalCorrectionHours(dayOfYear)
  return (Math.PI / 12) * (solarHours - 12)
}

/**
 * Extraterrestrial radiation for a period of `periodHours` (1 for hourly) centred on the clock
 * time `clockMidpointHours` [MJ m⁻² per period] (eq. 28–30). The start and end angles are clipped
 * to ±ωs so periods at sunrise/sunset count only their sunlit part; a night period gives 0.
 */
export function extraterrestrialRadiationPeriodMJm2(input: {
  latitudeDeg: number
  longitudeDegE: number
  timeZoneCentreDegE: number
  dayOfYear: number
  clockMidpointHours: number
  periodHours?: number
}): number {
  const periodHours = input.periodHours ?? 1
  const phi = degToRad(input.latitudeDeg)
  const dr = inverseRelativeDistanceEarthSun(input.dayOfYear)
  const delta = solarDeclinationRad(input.dayOfYear)
  const ws = sunsetHourAngleRad(phi, delta)
  const w = solarTimeAngleRad(
    input.clockMidpointHours,
    input.longitudeDegE,
    input.timeZoneCentreDegE,
    input.dayOfYear,
  )
  const w1 = Math.max(-ws, Math.min(ws, w - (Math.PI * periodHours) / 24))
  const w2 = Math.max(-ws, Math.min(ws, w + (Math.PI * periodHours) / 24))
  if (w2 <= w1) return 0
  const ra =
    ((12 * 60) / Math.PI) *
    SOLAR_CONSTANT_MJM2MIN *
    dr *
    ((w2 - w1) * Math.sin(phi) * Math.sin(delta) +
      Math.cos(phi) * Math.cos(delta) * (Math.sin(w2) - Math.sin(w1)))
  return Math.max(0, ra)
}

/** Net outgoing longwave radiation for an hour [MJ m⁻² h⁻¹] (eq. 39 with σ per hour and Thr). */
export function netLongwaveRadiationHourlyMJm2(
  tC: number,
  actualVapourPressureKPa: number,
  relativeShortwave: number,
): number {
  return (
    STEFAN_BOLTZMANN_MJK4M2HOUR *
    (tC + KELVIN_OFFSET) ** 4 *
    (0.34 - 0.14 * Math.sqrt(actualVapourPressureKPa)) *
    (1.35 * relativeShortwave - 0.35)
  )
}

/**
 * Rs/Rso used at night, when Rso is zero. FAO-56 (after eq. 39) says to take the ratio of a
 * period 2–3 hours before sunset; absent that, 0.8 is the value its example 19 uses for a
 * night hour in a semi-arid climate. Callers with daytime data should pass their own.
 */
export const DEFAULT_NIGHT_RELATIVE_SHORTWAVE = 0.8

export interface Et0HourlyInput {
  tC: number
  rhPct: number
  windSpeedMs: number
  windHeightM?: number
  /** Rs over the hour [MJ m⁻² h⁻¹]. */
  solarRadiationMJm2: number
  latitudeDeg: number
  longitudeDegE: number
  /** Centre of the time zone the clock is in, east-positive (WIB: 105). */
  timeZoneCentreDegE: number
  elevationM: number
  dayOfYear: number
  /** Clock time at the middle of the hour, e.g. 14.5 for 14:00–15:00. */
  clockMidpointHours: number
  /** Rs/Rso to use when the sun is down (see DEFAULT_NIGHT_RELATIVE_SHORTWAVE). */
  nightRelativeShortwave?: number
}

export interface Et0Hourly {
  et0Mm: number
  steps: {
    pressureKPa: number
    gammaKPaPerC: number
    deltaKPaPerC: number
    esKPa: number
    eaKPa: number
    u2Ms: number
    raMJm2: number
    rsoMJm2: number
    rnsMJm2: number
    rnlMJm2: number
    rnMJm2: number
    gMJm2: number
    daytime: boolean
  }
}

/**
 * Hourly reference evapotranspiration ET0 [mm h⁻¹] (FAO-56 eq. 53):
 *   ET0 = [0.408 Δ (Rn − G) + γ · 37/(Thr + 273) · u2 · (e°(Thr) − ea)] / [Δ + γ (1 + 0.34 u2)]
 * with ea = e°(Thr)·RHhr/100 (eq. 54), G = 0.1 Rn while the sun is up and 0.5 Rn at night
 * (eq. 45, 46). Daytime is judged by Ra > 0 for the hour.
 */
export function et0HourlyMm(input: Et0HourlyInput): Et0Hourly {
  const problems: string[] = []
  checkFinite({ ...input }, problems)
  if (input.rhPct < 0 || input.rhPct > 100) problems.push(`rhPct must be 0..100, got ${input.rhPct}`)
  if (input.windSpeedMs < 0) problems.push('windSpeedMs must be ≥ 0')
  if (input.solarRadiationMJm2 < 0) problems.push('solarRadiationMJm2 must be ≥ 0')
  if (Math.abs(input.latitudeDeg) > 90) problems.push('latitudeDeg must be within ±90')
  if (input.dayOfYear < 1 || input.dayOfYear > 366) problems.push('dayOfYear must be 1..366')
  if (input.windHeightM !== undefined && input.windHeightM < 0.5) problems.push('windHeightM must be ≥ 0.5')
  if (problems.length > 0) throw invalid(problems)

  const pressureKPa = atmosphericPressureKPa(input.elevationM)
  const gammaKPaPerC = psychrometricConstantKPaPerC(pressureKPa)
  const deltaKPaPerC = saturationSlopeKPaPerC(input.tC)
  const esKPa = saturationVapourPressureKPa(input.tC)
  const eaKPa = esKPa * (input.rhPct / 100)
  const u2Ms = windSpeedAt2mMs(input.windSpeedMs, input.windHeightM ?? STANDARD_WIND_HEIGHT_M)
  const raMJm2 = extraterrestrialRadiationPeriodMJm2(input)
  const rsoMJm2 = clearSkyRadiationMJm2(raMJm2, input.elevationM)
  const daytime = raMJm2 > 0
  const relRs =
    relativeShortwaveRadiation(input.solarRadiationMJm2, rsoMJm2) ??
    input.nightRelativeShortwave ??
    DEFAULT_NIGHT_RELATIVE_SHORTWAVE
  const rnsMJm2 = netShortwaveRadiationMJm2(input.solarRadiationMJm2)
  const rnlMJm2 = netLongwaveRadiationHourlyMJm2(input.tC, eaKPa, relRs)
  const rnMJm2 = netRadiationMJm2(rnsMJm2, rnlMJm2)
  const gMJm2 = (daytime ? 0.1 : 0.5) * rnMJm2

  const et0 =
    (0.408 * deltaKPaPerC * (rnMJm2 - gMJm2) +
      gammaKPaPerC * (37 / (input.tC + ET0_KELVIN_OFFSET)) * u2Ms * (esKPa - eaKPa)) /
    (deltaKPaPerC + gammaKPaPerC * (1 + 0.34 * u2Ms))

  return {
    et0Mm: Math.max(0, et0),
    steps: {
      pressureKPa,
      gammaKPaPerC,
      deltaKPaPerC,
      esKPa,
      eaKPa,
      u2Ms,
      raMJm2,
      rsoMJm2,
      rnsMJm2,
      rnlMJm2,
      rnMJm2,
      gMJm2,
      daytime,
    },
  }
}
