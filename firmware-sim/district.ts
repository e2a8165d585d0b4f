import type { PayloadFormat } from '../src/telemetry/index.ts'
import {
  type Crop,
  type FaultSpec,
  LOAM,
  PaddyModel,
  SimNode,
  SoilModel,
  type Species,
  StemModel,
  type SteppableModel,
  WeatherModel,
  WeatherStation,
} from './models/index.ts'

/**
 * A simulated district: villages of Banyuwangi, each with a weather station, soil nodes in rice
 * paddies (AWD, water level and soil moisture: models/paddy.ts), maize and chili fields and dendrometers on newly planted Sedekah Oksigen trees, all from one
 * seed. Pure layout and physics: transport (gateway, broker) is the fleet's business.
 */

/** Real villages of Kabupaten Banyuwangi (approximate centres), in the order the simulator uses them. */
export const VILLAGES = [
  { id: 'kemiren', name: 'Kemiren', latDeg: -8.2031, lonDeg: 114.3072 },
  { id: 'olehsari', name: 'Olehsari', latDeg: -8.2115, lonDeg: 114.3192 },
  { id: 'glagah', name: 'Glagah', latDeg: -8.2226, lonDeg: 114.3277 },
  { id: 'licin', name: 'Licin', latDeg: -8.1878, lonDeg: 114.2556 },
  { id: 'tamansari', name: 'Tamansari', latDeg: -8.1606, lonDeg: 114.2344 },
  { id: 'sumberagung', name: 'Sumberagung', latDeg: -8.5914, lonDeg: 114.2355 },
  { id: 'gombolirang', name: 'Gombolirang', latDeg: -8.1402, lonDeg: 114.3466 },
  { id: 'jambewangi', name: 'Jambewangi', latDeg: -8.3964, lonDeg: 114.2118 },
] as const

const FIELD_CROPS: readonly Crop[] = ['rice', 'maize', 'chili']
const TREE_SPECIES: readonly Species[] = ['sengon', 'teak', 'durian', 'avocado', 'soursop', 'trembesi']
const DAY_MS = 86_400_000
/** Banyuwangi's lowland rice varieties take 110–125 days (src/agronomy/season.ts: 115 by default). */
const PADDY_SEASON_DAYS = 115

export type NodeKind = 'weather' | 'soil' | 'dendrometer'

export interface SimNodeSpec {
  id: string
  village: string
  kind: NodeKind
  format: PayloadFormat
  /** What the node is on: a crop for soil nodes, a species for dendrometers. */
  subject?: string
  latDeg: number
  lonDeg: number
  node: SimNode
}

export interface SimVillage {
  id: string
  name: string
  gatewayId: string
  weather: WeatherModel
  nodes: SimNodeSpec[]
}

export interface DistrictOptions {
  seed: number
  villages: number
  /** Soil nodes per village (cycling rice, maize, chili). */
  fieldsPerVillage?: number
  /** Dendrometer nodes per village (cycling the species handed out). */
  treesPerVillage?: number
  /** Simulated time the models start at. */
  startMs: number
  /** Faults per node id. */
  faults?: Record<string, FaultSpec[]>
  /**
   * Soil node ids whose field starts dry (θ a little above the wilting point, as after weeks
   * without water): a demo of a field that needs water from the first minute.
   */
  startDry?: string[]
  /** Weather forcing for scenarios: a dry spell and rain events, applied to every village. */
  forcing?: {
    drySpells?: Array<{ fromMs: number; toMs: number }>
    rain?: Array<{ atMs: number; mm: number }>
  }
}

/** A paddy node's readings: the AWD tube and probe of PaddyModel, the soil temperature of SoilModel. */
function paddyNode(
  weather: WeatherModel,
  plantedAtMs: number,
  startMs: number,
  seed: number,
  soil: SoilModel,
): SteppableModel {
  const paddy = new PaddyModel({ weather, plantedAtMs, seasonDays: PADDY_SEASON_DAYS, startMs, seed })
  return {
    get nowMs() {
      return paddy.nowMs
    },
    step(toMs) {
      const temperature = soil.step(toMs).filter((r) => r.quantity === 'soil_temperature')
      return [...paddy.step(toMs), ...temperature]
    },
  }
}

export function buildDistrict(o: DistrictOptions): SimVillage[] {
  const fields = o.fieldsPerVillage ?? 3
  const trees = o.treesPerVillage ?? 2
  const villages: SimVillage[] = []
  for (let v = 0; v < o.villages; v++) {
    const base = VILLAGES[v % VILLAGES.length]!
    const suffix = v < VILLAGES.length ? '' : `-${Math.floor(v / VILLAGES.length) + 1}`
    const id = `${base.id}${suffix}`
    const seed = o.seed * 1000 + v
    const weather = new WeatherModel({ seed, latDeg: base.latDeg, lonDeg: base.lonDeg })
    for (const d of o.forcing?.drySpells ?? []) weather.forceDrySpell(d.fromMs, d.toMs)
    for (const r of o.forcing?.rain ?? []) weather.forceRain(r.atMs, r.mm)
    // Rounded to 6 decimals so registered coordinates carry no float noise (-8.198099999999998).
    const at = (i: number) => ({
      latDeg: Number((base.latDeg + 0.001 * i).toFixed(6)),
      lonDeg: Number((base.lonDeg + 0.001 * i).toFixed(6)),
    })
    const nodes: SimNodeSpec[] = []
    const add = (nodeId: string, kind: NodeKind, model: SteppableModel, i: number, subject?: string) => {
      const position = at(i)
      nodes.push({
        id: nodeId,
        village: id,
        kind,
        format: 'json',
        subject,
        ...position,
        node: new SimNode({ model, seed: seed * 100 + i, faults: o.faults?.[nodeId], status: position }),
      })
    }
    add(`${id}-wx`, 'weather', new WeatherStation({ weather, startMs: o.startMs, seed }), 0)
    for (let f = 0; f < fields; f++) {
      const crop = FIELD_CROPS[f % FIELD_CROPS.length]!
      const plantedAtMs = o.startMs - 20 * DAY_MS
      const soil = new SoilModel({
        weather,
        crop,
        plantedAtMs,
        startMs: o.startMs,
        seed: seed + f + 1,
        ...(o.startDry?.includes(`${id}-sawah${f + 1}`)
          ? { initialVwcPct: LOAM.wiltingPointVwcPct + 3 }
          : {}),
      })
      // A paddy: standing water under AWD and an AWD tube (water_level) beside its probe; the
      // node's thermistor still reads the soil temperature (SoilModel's, under standing water).
      const model: SteppableModel =
        crop === 'rice' ? paddyNode(weather, plantedAtMs, o.startMs, seed + f + 1, soil) : soil
      add(`${id}-sawah${f + 1}`, 'soil', model, f + 1, crop)
    }
    for (let t = 0; t < trees; t++) {
      const species = TREE_SPECIES[(v + t) % TREE_SPECIES.length]!
      const model = new StemModel({
        weather,
        species,
        plantedAtMs: o.startMs - 30 * DAY_MS,
        startMs: o.startMs,
        seed: seed + 50 + t,
      })
      add(`${id}-pohon${t + 1}`, 'dendrometer', model, fields + t + 1, species)
    }
    villages.push({ id, name: base.name + suffix, gatewayId: `${id}-gw`, weather, nodes })
  }
  return villages
}
