import { z } from 'zod'
import type { Quantity } from '../../telemetry/index.ts'
import { BATTERY } from './quantities.ts'
import { durationMs, HOUR_MS, MINUTE_MS, n, severity, shortId } from './schema.ts'
import type { Finding, RuleFamily } from './types.ts'

/** A stuck value is judged over hours; checking every 10 min of reading time is plenty. */
const STUCK_CHECK_EVERY_MS = 10 * 60_000
/** A battery recovers a little when the load stops: 0.1 V of hysteresis. */
const BATTERY_HYSTERESIS_V = 0.1

export const sensorHealthSchema = z
  .object({
    enabled: z.boolean().default(true),
    /** A node that sent nothing for this long is offline. */
    offlineAfterMs: durationMs.default(60 * MINUTE_MS),
    /** A gateway reported offline (status topic) for this long. */
    gatewayOfflineAfterMs: durationMs.default(15 * MINUTE_MS),
    /** The same value for this long means a stuck sensor. */
    stuckForMs: durationMs.default(6 * HOUR_MS),
    stuckQuantities: z.array(z.string()).default(['soil_moisture', 'air_temperature']),
    /**
     * Plausible ranges, narrower than the physical ranges ingest enforces: a soil probe reading
     * 0 % or 80 % VWC is out of the soil or broken.
     */
    plausible: z
      .record(z.string(), z.object({ min: z.number(), max: z.number() }).strict())
      .default({ soil_moisture: { min: 2, max: 60 }, air_temperature: { min: 10, max: 45 } }),
    outOfRangeForMs: durationMs.default(30 * MINUTE_MS),
    batteryLowV: z.number().positive().default(3.5),
    batteryForMs: durationMs.default(30 * MINUTE_MS),
    severity: severity.default('warning'),
  })
  .strict()
  .prefault({})

const IDS = ['device_offline', 'gateway_offline', 'stuck', 'out_of_range', 'battery_low'] as const

/**
 * Every finding of one shape, built by one module-level function: evaluate runs for each report of
 * each node (object spreads of a shared base were a tenth of the service's CPU with 10 000 nodes,
 * and a closure made per call costs tsx's keepNames helper a defineProperty each time).
 */
function healthFinding(
  t: { device: string; village: string; atMs: number; field?: { id: string } },
  severity: Finding['severity'],
  rule: (typeof IDS)[number],
  subject: string,
  active: boolean,
  clear: boolean,
  value: number | undefined,
  threshold: number | undefined,
  forMs: number,
): Finding {
  return {
    rule,
    subject,
    category: 'sensor',
    village: t.village,
    field: t.field?.id,
    device: t.device,
    severity,
    active,
    clear,
    value,
    threshold,
    atMs: t.atMs,
    forMs,
  }
}

/** Node and gateway health: offline, stuck value, implausible value, battery low. */
export const sensorHealth: RuleFamily<(typeof IDS)[number]> = {
  family: 'sensor-health',
  ids: IDS,
  configKey: 'sensorHealth',
  schema: sensorHealthSchema,
  quantities: [BATTERY],
  trigger: 'device',
  describe:
    'node silent 60 min, gateway offline 15 min, value stuck 6 h, value implausible 30 min, battery < 3.5 V for 30 min',
  windowMs: (c) => c.rules.sensorHealth.stuckForMs + HOUR_MS,
  evaluate(ctx, t) {
    const h = ctx.config.rules.sensorHealth
    if (t.kind !== 'device' || !h.enabled) return []
    const { device, atMs } = t
    const subject = `device:${device}`
    // A reading arrived: the node is not offline.
    const out: Finding[] = [
      healthFinding(t, h.severity, 'device_offline', subject, false, true, undefined, undefined, 0),
    ]
    if (ctx.due('stuck', device, atMs, STUCK_CHECK_EVERY_MS)) {
      for (const q of h.stuckQuantities as Quantity[]) {
        const w = ctx.window(device, q, atMs - h.stuckForMs, atMs)
        if (w.n === 0 || w.lo === null || w.hi === null) continue
        // Evidence must span the whole period: a reading at or before its start.
        const before = ctx.valueAtOrBefore(device, q, atMs - h.stuckForMs)
        const flat = w.hi - w.lo < 1e-9 && before !== undefined && Math.abs(before - w.lo) < 1e-9
        out.push(healthFinding(t, h.severity, 'stuck', `${subject}:${q}`, flat, !flat, w.lo, undefined, 0))
      }
    }
    for (const q in h.plausible) {
      const v = ctx.latest(device, q as Quantity)
      if (!v || v.timeMs < atMs) continue
      const range = h.plausible[q]!
      const outside = v.value < range.min || v.value > range.max
      out.push(
        healthFinding(
          t,
          h.severity,
          'out_of_range',
          `${subject}:${q}`,
          outside,
          !outside,
          v.value,
          undefined,
          h.outOfRangeForMs,
        ),
      )
    }
    const battery = ctx.latest(device, BATTERY)
    if (battery && battery.timeMs >= atMs) {
      out.push(
        healthFinding(
          t,
          h.severity,
          'battery_low',
          subject,
          battery.value < h.batteryLowV,
          battery.value >= h.batteryLowV + BATTERY_HYSTERESIS_V,
          battery.value,
          h.batteryLowV,
          h.batteryForMs,
        ),
      )
    }
    return out
  },
  tick(ctx, nowMs) {
    const h = ctx.config.rules.sensorHealth
    if (!h.enabled) return []
    const out: Finding[] = []
    for (const r of ctx.devicesSeen()) {
      if (!ctx.owns(r.village)) continue
      if (r.lastMs > 0 && nowMs - r.lastMs >= h.offlineAfterMs) {
        out.push({
          rule: 'device_offline',
          subject: `device:${r.device}`,
          category: 'sensor',
          village: r.village,
          device: r.device,
          field: ctx.fieldOfDevice(r.device)?.id,
          severity: h.severity,
          active: true,
          clear: false,
          value: r.lastMs,
          atMs: nowMs,
          forMs: 0,
        })
      }
      if (
        r.status === 'offline' &&
        r.statusAtMs !== null &&
        nowMs - r.statusAtMs >= h.gatewayOfflineAfterMs
      ) {
        out.push({
          rule: 'gateway_offline',
          subject: `device:${r.device}`,
          category: 'sensor',
          village: r.village,
          device: r.device,
          severity: h.severity,
          active: true,
          clear: false,
          value: r.statusAtMs,
          atMs: nowMs,
          forMs: 0,
        })
      }
    }
    return out
  },
  texts: {
    device_offline: {
      id: {
        label: () => 'sensor mati',
        firing: (a) =>
          `${a.fieldName ?? shortId(a.village)}: sensor ${shortId(a.device)} tdk kirim data sejak ${a.sinceLocal?.replace(':', '.')}. Cek baterai/alat.`,
      },
      en: {
        label: () => 'sensor offline',
        firing: (a) =>
          `${a.fieldName ?? shortId(a.village)}: sensor ${shortId(a.device)} silent since ${a.sinceLocal}. Check battery.`,
      },
    },
    gateway_offline: {
      id: {
        label: () => 'gateway mati',
        firing: (a) =>
          `Gateway ${shortId(a.device)} desa ${shortId(a.village)} mati sejak ${a.sinceLocal?.replace(':', '.')}. Cek listrik/jaringan.`,
      },
      en: {
        label: () => 'gateway offline',
        firing: (a) =>
          `Gateway ${shortId(a.device)} (${shortId(a.village)}) offline since ${a.sinceLocal}. Check power/network.`,
      },
    },
    stuck: {
      id: {
        label: () => 'sensor macet',
        firing: (a, l) =>
          `${a.fieldName ?? shortId(a.village)}: sensor ${shortId(a.device)} macet (nilai tetap ${n(a.value!, l)}). Cek alat.`,
      },
      en: {
        label: () => 'sensor stuck',
        firing: (a, l) =>
          `${a.fieldName ?? shortId(a.village)}: sensor ${shortId(a.device)} stuck at ${n(a.value!, l)}. Check it.`,
      },
    },
    out_of_range: {
      id: {
        label: () => 'sensor tdk wajar',
        firing: (a, l) =>
          `${a.fieldName ?? shortId(a.village)}: sensor ${shortId(a.device)} tdk wajar (${n(a.value!, l)}). Cek pemasangan.`,
      },
      en: {
        label: () => 'sensor implausible',
        firing: (a, l) =>
          `${a.fieldName ?? shortId(a.village)}: sensor ${shortId(a.device)} implausible (${n(a.value!, l)}). Check it.`,
      },
    },
    battery_low: {
      id: {
        label: () => 'baterai lemah',
        firing: (a, l) =>
          `${a.fieldName ?? shortId(a.village)}: baterai ${shortId(a.device)} lemah (${n(a.value!, l, 2)} V). Ganti/isi baterai.`,
      },
      en: {
        label: () => 'battery low',
        firing: (a, l) =>
          `${a.fieldName ?? shortId(a.village)}: ${shortId(a.device)} battery low (${n(a.value!, l, 2)} V).`,
      },
    },
  },
}
