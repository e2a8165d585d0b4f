import { createHash } from 'node:crypto'
import { z } from 'zod'

/**
 * Which villages a state worker (`kampung state`) owns: alert state and Oksigen trees of a village
 * are evaluated by exactly one worker, so two workers never judge the same field from half its
 * readings, and never both SMS the same alert. Either a hash partition (`index` of `count`) or an
 * explicit list of village ids; never both.
 */
export const partitionSchema = z
  .object({
    /** This worker's share: villages whose hash mod `count` equals `index`. */
    index: z.number().int().min(0).optional(),
    count: z.number().int().min(1).max(1024).optional(),
    /** Or exactly these villages (subscribes to their topics only). */
    villages: z
      .array(z.string().regex(/^[^/+#\s]+$/, 'a village id (no / + # or spaces)'))
      .min(1)
      .optional(),
    /**
     * MQTT client id of the state worker's persistent session. Default `kampung-state-<index>-of-<count>`
     * or `kampung-state-<villages joined by _>`: a restarted worker finds its own session.
     */
    clientId: z.string().min(1).optional(),
  })
  .strict()
  .superRefine((p, ctx) => {
    const hashed = p.index !== undefined || p.count !== undefined
    if (hashed && p.villages)
      ctx.addIssue({ code: 'custom', message: 'either index and count, or villages, not both' })
    if (!hashed && !p.villages) ctx.addIssue({ code: 'custom', message: 'give index and count, or villages' })
    if (hashed && (p.index === undefined || p.count === undefined))
      ctx.addIssue({ code: 'custom', message: 'index and count go together' })
    if (p.index !== undefined && p.count !== undefined && p.index >= p.count)
      ctx.addIssue({ code: 'custom', path: ['index'], message: `must be below count (${p.count})` })
  })

export type PartitionConfig = z.infer<typeof partitionSchema>

/**
 * The bucket of a village: the first 4 bytes of SHA-256 over its UTF-8 id, big-endian, mod count.
 * Stable across processes, machines, Node versions and languages (any SHA-256 gives the same), and
 * well mixed, so similar ids (`desa-001`, `desa-002`) spread evenly.
 */
export function villageBucket(village: string, count: number): number {
  return createHash('sha256').update(village, 'utf8').digest().readUInt32BE(0) % count
}

/** The ownership predicate of a partition config (cached per village: it runs for every reading). */
export function ownership(p: PartitionConfig): (village: string) => boolean {
  if (p.villages) {
    const set = new Set(p.villages)
    return (v) => set.has(v)
  }
  const { index, count } = p as { index: number; count: number }
  const cache = new Map<string, boolean>()
  return (v) => {
    let owned = cache.get(v)
    if (owned === undefined) {
      owned = villageBucket(v, count) === index
      if (cache.size < 100_000) cache.set(v, owned)
    }
    return owned
  }
}

export function describePartition(p: PartitionConfig): string {
  return p.villages ? `villages ${p.villages.join(', ')}` : `partition ${p.index} of ${p.count}`
}

export function partitionClientId(p: PartitionConfig): string {
  if (p.clientId) return p.clientId
  return p.villages ? `kampung-state-${p.villages.join('_')}` : `kampung-state-${p.index}-of-${p.count}`
}
