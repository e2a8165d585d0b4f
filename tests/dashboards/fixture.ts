import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { buildDistrict, type SimVillage } from '../../firmware-sim/district.ts'
import { directDriver } from '../../firmware-sim/fleet.ts'
import { type CropId, et0DailyMm, irrigationAdvice } from '../../src/agronomy/index.ts'
import { encodeEvent } from '../../src/alerts/index.ts'
import { InfluxAssessmentSink, Oksigen, SPECIES_IDS } from '../../src/oksigen/index.ts'
import { policySchema } from '../../src/oksigen/policy.ts'
import { Registry } from '../../src/registry/index.ts'
import { SCHEMAS } from '../../src/schemas.ts'
import { InfluxClient, InfluxStore } from '../../src/store/index.ts'
import { decode } from '../../src/telemetry/index.ts'
import type { Reading } from '../../src/telemetry/reading.ts'

export const DATABASE = 'kampung'
const DAY_MS = 86_400_000
const HOUR_MS = 3_600_000
// The dendrometer processing counts a day only when its 10-minute grid is mostly covered.
const STEP_MS = 10 * 60_000

export interface LoadedDistrict {
  villages: SimVillage[]
  fromMs: number
  toMs: number
  /** Active alerts written as fixture data (village → fields with an active alert). */
  activeAlerts: Array<{ village: string; field: string; state: 'firing' | 'escalated' | 'acknowledged' }>
  /** Tree ids the verifier assessed, with their village. */
  trees: Array<{ id: string; village: string; device: string }>
  /** Readings written through the InfluxStore. */
  readings: number
  /** A node that fell silent 4 days before the end (a dropout fault): "Last seen" must list it. */
  silent: { device: string; village: string; fromMs: number }
}

/** Fixture points go out through the system's own client and encoder (src/store/influx). */
async function writeLines(url: string, rp: string, lines: string[]): Promise<void> {
  const client = new InfluxClient({ url })
  try {
    const partial = await client.write({ database: DATABASE, retentionPolicy: rp }, lines.join('\n'))
    if (partial) throw new Error(`fixture write: ${partial.message}`)
  } finally {
    client.close()
  }
}

async function admin(url: string, q: string): Promise<void> {
  // A backfill SELECT … INTO over the range takes seconds, more on a loaded machine.
  const client = new InfluxClient({ url, requestTimeoutMs: 120_000 })
  try {
    await client.query(q, { database: DATABASE })
  } finally {
    client.close()
  }
}

/**
 * Loads a simulated district into a real influxd, each kind of data through the code that writes
 * it in production where that code exists:
 * - readings: the firmware-sim district (3 villages, 3 fields and 2 trees each) sampled every
 *   10 min for 10 days ending now, each node report encoded as the JSON uplink a gateway sends,
 *   decoded by the real decoder and written by the real InfluxStore (RP raw);
 * - signal strength: the ChirpStack uplink fixture of src/telemetry/testdata, re-addressed to a
 *   sim node and re-timed, decoded by the real ChirpStack decoder (the sim's JSON nodes have none);
 * - rp_1h and rp_1d: the store's continuous queries' own SELECT … INTO run once over the range (a
 *   CQ only ever covers the last intervals, so a backfill is what an operator would run too);
 * - oksigen_assessment: the real Verifier fed the dendrometer readings, with the real
 *   InfluxAssessmentSink;
 * - alert_events and irrigation_advice: FIXTURE DATA in the schema the alerts engine writes
 *   (another branch builds that engine; states firing, escalated, acknowledged, resolved); the advice numbers come from src/agronomy (FAO-56 ET0 from
 *   the simulated weather's daily summary, Kc, effective rain).
 */
const SILENT = { device: 'glagah-sawah3', village: 'glagah' }

export async function loadDistrict(
  influxUrl: string,
): Promise<LoadedDistrict & { cleanup(): Promise<void> }> {
  const toMs = Math.floor(Date.now() / STEP_MS) * STEP_MS
  const fromMs = toMs - 10 * DAY_MS
  const villages = buildDistrict({
    seed: 7,
    villages: 3,
    fieldsPerVillage: 3,
    treesPerVillage: 2,
    startMs: fromMs,
    faults: {
      // a tree that dies on day 2: the verifier must fail it
      'glagah-pohon2': [{ kind: 'dead_tree', fromMs: fromMs + 2 * DAY_MS, noiseUm: 1 }],
      // a soil node that stops reporting 4 days before the end
      [SILENT.device]: [{ kind: 'dropout', fromMs: fromMs + 6 * DAY_MS + 60_000 }],
    },
  })

  const store = new InfluxStore({ url: influxUrl, database: DATABASE })
  await store.start()
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kampung-dash-'))
  const registry = new Registry({ path: path.join(dir, 'registry.db'), schemas: SCHEMAS })
  await registry.start()
  const sink = new InfluxAssessmentSink({ url: influxUrl, database: DATABASE })
  await sink.start()
  const oksigen = new Oksigen({
    registry,
    dir: path.join(dir, 'oksigen'),
    keyDir: path.join(dir, 'oksigen', 'keys'),
    policies: { default: policySchema.parse({}) },
    evaluateEveryMs: 3_600_000,
    onAssessment: (r) => sink.add(r),
  })
  await oksigen.start()
  const trees: LoadedDistrict['trees'] = []
  for (const v of villages) {
    registry.addVillage({ id: v.id, name: v.name })
    for (const n of v.nodes) {
      await registry.addDevice({ id: n.id, village: v.id, kind: n.kind, format: 'json' })
      if (n.kind !== 'dendrometer') continue
      // The first tree of each village was planted big enough (6 cm) for Chave's equation.
      const big = n.id.endsWith('pohon1')
      const tree = oksigen.repo.addTree(
        {
          device: n.id,
          species: n.subject!,
          plantedAtMs: fromMs - 30 * DAY_MS,
          initialDiameterMm: big ? 60 : 15,
          initialHeightM: big ? 4 : 1.6,
          // biomass uses the DBH measured at registration (1.0 cm: below eq. 4's range, a rough figure)
          dbhCm: big ? 5.5 : 1.0,
          mountHeightCm: 30,
          lat: n.latDeg,
          lon: n.lonDeg,
        },
        SPECIES_IDS,
      )
      trees.push({ id: tree.id, village: v.id, device: n.id })
    }
  }
  oksigen.verifier.refreshTrees()

  let readings = 0
  let batch: Reading[] = []
  const flush = async () => {
    if (batch.length === 0) return
    await store.write(batch)
    oksigen.verifier.onReadings(batch)
    readings += batch.length
    batch = []
  }
  let lastEvaluatedMs = fromMs
  for (let t = fromMs + STEP_MS; t <= toMs; t += STEP_MS) {
    for (const v of villages) {
      for (const n of v.nodes) {
        const report = await directDriver(n, t)
        if (!report) continue
        const payload = JSON.stringify({ ts: report.timeMs ?? undefined, values: report.values })
        const decoded = decode('json', payload, { village: v.id, device: n.id, receivedAtMs: t })
        if (decoded.errors.length) throw new Error(`sim payload rejected: ${JSON.stringify(decoded.errors)}`)
        batch.push(...decoded.readings)
      }
    }
    if (batch.length >= 4_000) await flush()
    // The verifier assesses every few hours of simulated time: GRO/TWD curves get their points.
    if (t - lastEvaluatedMs >= 6 * HOUR_MS) {
      await flush()
      oksigen.verifier.evaluateDirty()
      lastEvaluatedMs = t
    }
  }
  await flush()
  oksigen.verifier.evaluateDirty()
  await sink.flush()
  if (sink.written === 0) throw new Error('the verifier wrote no assessment')

  // Signal strength from a LoRaWAN uplink (ChirpStack fixture), three per soil node of the first village.
  const chirp = JSON.parse(
    readFileSync(new URL('../../src/telemetry/testdata/chirpstack-data/input.json', import.meta.url), 'utf8'),
  )
  const radio: Reading[] = []
  const first = villages[0]!
  for (const n of first.nodes.filter((x) => x.kind === 'soil')) {
    for (const agoMs of [3 * HOUR_MS, 2 * HOUR_MS, HOUR_MS]) {
      const uplink = { ...chirp, time: new Date(toMs - agoMs).toISOString() }
      const d = decode('chirpstack', JSON.stringify(uplink), {
        village: first.id,
        device: n.id,
        receivedAtMs: toMs - agoMs,
        channels: { '3': { quantity: 'soil_moisture', sensor: 'soil1' } },
      })
      radio.push(...d.readings.filter((r) => r.quantity === 'signal_strength'))
    }
  }
  if (radio.length === 0) throw new Error('ChirpStack fixture gave no signal_strength')
  await store.write(radio)
  readings += radio.length

  // Backfill rp_1h, then rp_1d from it, with the store's own continuous queries' SELECTs over the
  // range (the day so far included, as the daily CQ's RESAMPLE keeps it).
  for (const cq of store.continuousQueries()) {
    const select = /BEGIN (.*) END$/.exec(cq.statement)?.[1]
    if (!select) throw new Error(`unexpected CQ statement ${cq.statement}`)
    await admin(
      influxUrl,
      select.replace(' GROUP BY ', ` WHERE time >= ${fromMs - DAY_MS}ms AND time <= ${toMs}ms GROUP BY `),
    )
  }

  // FIXTURE DATA in the alerts engine's schema (RP events, created by it; here by the sink already).
  const activeAlerts: LoadedDistrict['activeAlerts'] = []
  const alertLines: string[] = []
  const alert = (
    village: string,
    field: string,
    rule: string,
    severity: string,
    state: string,
    id: number,
    value: number,
    message: string,
    atMs: number,
  ) =>
    alertLines.push(
      encodeEvent({
        measurement: 'alert_events',
        timeMs: atMs,
        tags: { field, rule, severity, state, village },
        fields: { alert_id: id, value, message },
      }),
    )
  const [v1, v2, v3] = villages.map((v) => v.id) as [string, string, string]
  alert(
    v1,
    `${v1}-sawah1`,
    'dry',
    'warning',
    'firing',
    1,
    17.2,
    'Sawah 1 kering: 17.2 %VWC',
    toMs - 3 * DAY_MS,
  )
  alert(
    v1,
    `${v1}-sawah1`,
    'dry',
    'warning',
    'resolved',
    1,
    24.0,
    'Sawah 1 sudah basah lagi',
    toMs - 2 * DAY_MS,
  )
  alert(v1, `${v1}-sawah2`, 'heavy_rain', 'critical', 'firing', 2, 62, 'Hujan lebat 62 mm', toMs - DAY_MS)
  alert(
    v2,
    `${v2}-sawah1`,
    'dry',
    'warning',
    'firing',
    3,
    16.1,
    'Sawah 1 kering: 16.1 %VWC',
    toMs - 2 * DAY_MS,
  )
  alert(v2, `${v2}-sawah1`, 'dry', 'warning', 'acknowledged', 3, 16.1, 'Diterima petugas', toMs - DAY_MS)
  alert(v3, `${v3}-sawah3`, 'heat', 'warning', 'firing', 4, 35.5, 'Panas 35.5 °C', toMs - 5 * DAY_MS)
  alert(v3, `${v3}-sawah3`, 'heat', 'warning', 'resolved', 4, 31, 'Suhu normal', toMs - 4 * DAY_MS)
  alert(
    v3,
    `${v3}-sawah2`,
    'dry',
    'critical',
    'firing',
    5,
    12.5,
    'Sawah 2 kering: 12.5 %VWC',
    toMs - 2 * DAY_MS,
  )
  alert(
    v3,
    `${v3}-sawah2`,
    'dry',
    'critical',
    'escalated',
    5,
    12.5,
    'Diteruskan ke petugas desa',
    toMs - DAY_MS,
  )
  activeAlerts.push(
    { village: v1, field: `${v1}-sawah2`, state: 'firing' },
    { village: v2, field: `${v2}-sawah1`, state: 'acknowledged' },
    { village: v3, field: `${v3}-sawah2`, state: 'escalated' },
  )
  await writeLines(influxUrl, 'events', alertLines)

  const adviceLines: string[] = []
  for (const v of villages) {
    const centre = v.nodes[0]!
    for (const n of v.nodes.filter((x) => x.kind === 'soil')) {
      const crop = n.subject as CropId
      for (let day = fromMs; day + DAY_MS <= toMs; day += DAY_MS) {
        const s = v.weather.dailySummary(day)
        const dayOfYear = Math.floor((day - Date.UTC(new Date(day).getUTCFullYear(), 0, 0)) / DAY_MS)
        const et0 = et0DailyMm({
          tMinC: s.tMinC,
          tMaxC: s.tMaxC,
          rhMaxPct: s.rhMaxPct,
          rhMinPct: s.rhMinPct,
          windSpeedMs: s.windMeanMs,
          windHeightM: 3,
          solarRadiationMJm2: s.solarMjM2,
          latitudeDeg: centre.latDeg,
          elevationM: 100,
          dayOfYear,
        }).et0Mm
        const daysSincePlanting = Math.floor((day - (fromMs - 20 * DAY_MS)) / DAY_MS)
        const a = irrigationAdvice({
          et0Mm: [et0],
          rainMm: [s.rainMm],
          crop,
          daysSincePlanting,
          areaHa: 0.25,
        })
        const kc = a.perDay[0]!.kc
        adviceLines.push(
          encodeEvent({
            measurement: 'irrigation_advice',
            timeMs: s.dayStartMs + 18 * HOUR_MS,
            tags: { crop, field: n.id, village: v.id },
            fields: {
              et0_mm: et0,
              kc,
              etc_mm: a.etcMm,
              rain_mm: s.rainMm,
              rain_eff_mm: a.effectiveRainMm,
              need_mm: a.netNeedMm,
              litres: a.litres,
            },
          }),
        )
      }
    }
  }
  await writeLines(influxUrl, 'events', adviceLines)

  return {
    villages,
    fromMs,
    toMs,
    activeAlerts,
    trees,
    readings,
    silent: { ...SILENT, fromMs: fromMs + 6 * DAY_MS + 60_000 },
    async cleanup() {
      await oksigen.stop()
      await sink.stop()
      await registry.stop()
      await store.stop()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
