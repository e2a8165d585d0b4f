/**
 * A few simulated days in a Banyuwangi village: a weather station, a maize field and a young teak
 * tree, then three weeks with a scripted dry spell and a storm.
 * Run: npx tsx firmware-sim/models/example.ts
 */
import { DAY_MS, HOUR_MS, localHours, SoilModel, StemModel, WeatherModel, WeatherStation } from './index.ts'

const startMs = Date.parse('2025-01-05T00:00:00+07:00')
const weather = new WeatherModel({ seed: 42 })
  .forceDrySpell(startMs + 5 * DAY_MS, startMs + 15 * DAY_MS)
  .forceRain(startMs + 15 * DAY_MS + 14 * HOUR_MS, 60)
const station = new WeatherStation({ weather, startMs })
const maize = new SoilModel({ weather, crop: 'maize', plantedAtMs: startMs - 20 * DAY_MS, startMs, seed: 1 })
const teak = new StemModel({ weather, species: 'teak', plantedAtMs: startMs, startMs, seed: 2 })

const fmt = (v: number, digits: number, width: number) => v.toFixed(digits).padStart(width)
const value = (readings: Array<{ quantity: string; value: number }>, q: string) =>
  readings.find((r) => r.quantity === q)?.value ?? Number.NaN

console.log('Every 3 hours, first 2 days (local time WIB)')
console.log('time         air°C  RH%   hPa  wind W/m2 rain mm | maize %VWC soil°C | teak µm')
let rainMm = 0
for (let t = startMs + HOUR_MS; t <= startMs + 2 * DAY_MS; t += HOUR_MS) {
  const w = station.step(t)
  rainMm += value(w, 'rainfall')
  const soil = maize.step(t)
  const stem = teak.step(t)
  if (Math.round(localHours(t)) % 3 !== 0) continue
  const day = Math.floor((t - startMs) / DAY_MS) + 1
  console.log(
    `d${day} ${String(Math.round(localHours(t))).padStart(2, '0')}:00  ` +
      `${fmt(value(w, 'air_temperature'), 1, 5)} ${fmt(value(w, 'relative_humidity'), 0, 4)} ` +
      `${fmt(value(w, 'pressure'), 1, 6)} ${fmt(value(w, 'wind_speed'), 1, 4)} ` +
      `${fmt(value(w, 'solar_radiation'), 0, 4)} ${fmt(rainMm, 1, 7)} | ` +
      `${fmt(value(soil, 'soil_moisture'), 1, 10)} ${fmt(value(soil, 'soil_temperature'), 1, 6)} | ` +
      `${fmt(value(stem, 'stem_diameter'), 0, 7)}`,
  )
  rainMm = 0
}

console.log('\nDaily, dry spell from day 6 to day 15, 60 mm storm on day 16 at 14:00')
console.log('day  rain mm  Tmin  Tmax  MJ/m2 | maize %VWC at 06:00 | teak max µm  growth µm  max TWD µm')
let dayRain = 0
for (let day = 2; day < 21; day++) {
  let vwcAt6 = Number.NaN
  let maxUm = Number.NEGATIVE_INFINITY
  let maxTwd = 0
  for (let h = 1; h <= 24; h++) {
    const t = startMs + day * DAY_MS + h * HOUR_MS
    dayRain += value(station.step(t), 'rainfall')
    const soil = maize.step(t)
    if (h === 6) vwcAt6 = value(soil, 'soil_moisture')
    maxUm = Math.max(maxUm, value(teak.step(t), 'stem_diameter'))
    maxTwd = Math.max(maxTwd, teak.state().twdUm)
  }
  const summary = weather.dailySummary(startMs + day * DAY_MS + 12 * HOUR_MS)
  console.log(
    `${String(day + 1).padStart(3)} ${fmt(dayRain, 1, 8)} ${fmt(summary.tMinC, 1, 5)} ${fmt(summary.tMaxC, 1, 5)} ` +
      `${fmt(summary.solarMjM2, 1, 6)} | ${fmt(vwcAt6, 1, 19)} | ${fmt(maxUm, 0, 11)} ` +
      `${fmt(teak.state().growthUm, 0, 10)} ${fmt(maxTwd, 1, 11)}`,
  )
  dayRain = 0
}
