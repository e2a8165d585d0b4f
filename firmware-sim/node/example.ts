// npx tsx firmware-sim/node/example.ts — a soil node, a weather station and a dendrometer on mock
// Firmata, three reports each, then 30 simulated days for 10 nodes, timed.
import { createSimNode, type Environment } from './sim-node.ts'

const START_MS = Date.parse('2026-01-05T00:00:00+07:00')

function environment(t: number): Environment {
  const h = ((t - START_MS) / 3_600_000) % 24
  const sun = Math.max(0, Math.sin(((h - 6) / 12) * Math.PI))
  return {
    soil_moisture: 32 - ((t - START_MS) / 86_400_000) * 0.4,
    soil_temperature: 26 + 3 * sun,
    air_temperature: 24 + 8 * sun,
    relative_humidity: 95 - 35 * sun,
    pressure: 1009.5,
    rain_mm_since_last: h >= 15 && h < 16 ? 1.3 : 0,
    wind_speed: 1 + 3 * sun,
    solar_radiation: 1000 * sun,
    stem_diameter: 25_000 + 2 * ((t - START_MS) / 3_600_000) - 40 * sun,
    battery_voltage: 3.92,
  }
}

const configs = [
  { kind: 'soil', deviceId: 'soil-01' },
  { kind: 'weather', deviceId: 'wx-01' },
  { kind: 'dendrometer', deviceId: 'tree-01', dendrometer: { baseDiameterUm: 25_000 } },
] as const

const t0 = performance.now()
const nodes = await Promise.all(configs.map((config) => createSimNode({ config, environment })))
console.log(`3 nodes ready in ${(performance.now() - t0).toFixed(0)} ms (the BME280 driver waits 1 s)`)
for (const node of nodes) {
  for (const r of await node.run({ startMs: START_MS + 14 * 3_600_000, steps: 3 })) {
    console.log(r.deviceId, new Date(r.timeMs!).toISOString(), JSON.stringify(r.reading))
  }
}
for (const n of nodes) n.stop()

const fleet = await Promise.all(
  Array.from({ length: 10 }, (_, i) => {
    const config = configs[i % 3]!
    return createSimNode({ config: { ...config, deviceId: `${config.deviceId}-${i}` }, environment })
  }),
)
const t1 = performance.now()
const runs = await Promise.all(fleet.map((n) => n.run({ startMs: START_MS, steps: 30 * 144 })))
const reports = runs.reduce((s, r) => s + r.length, 0)
console.log(`30 simulated days × 10 nodes (${reports} reports): ${(performance.now() - t1).toFixed(0)} ms`)
for (const n of fleet) n.stop()
