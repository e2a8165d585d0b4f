import { Worker } from 'node:worker_threads'
import { Registry } from '../src/registry/index.ts'
import { SCHEMAS } from '../src/schemas.ts'
import type { LoadDevice, LoadJob, LoadResult } from './load-client.ts'

/**
 * The benchmarks' fleet, registered in a new registry at `registryPath` through the registry's
 * own `addDevice` (so whatever hash src/registry/secrets.ts uses today): every fifth device a
 * weather station (6 readings per report), the rest soil nodes (4). With `villages` > 1 the
 * devices are spread over villages `<village>-0` … in turn. Hashes are computed `concurrency` at a
 * time (an asynchronous hash runs on libuv's thread pool, on every core) and the inserts skip
 * fsync while registering (a throwaway file). `readingsPerRound`: readings when every device has
 * sent one report.
 */
export async function registerFleet(
  registryPath: string,
  count: number,
  village: string,
  options: { villages?: number; concurrency?: number } = {},
): Promise<{ devices: LoadDevice[]; readingsPerRound: number }> {
  const villages = options.villages ?? 1
  const concurrency = options.concurrency ?? 1
  const registry = new Registry({ path: registryPath, schemas: SCHEMAS })
  await registry.start()
  try {
    registry.database().pragma('synchronous = OFF')
    const villageOf = (i: number) => (villages === 1 ? village : `${village}-${i % villages}`)
    for (let v = 0; v < villages; v++) {
      const id = villageOf(v)
      registry.addVillage({ id, name: `Bench ${id}` })
    }
    const devices: LoadDevice[] = new Array(count)
    let nextIndex = 0
    const registerNext = async (): Promise<void> => {
      for (let i = nextIndex++; i < count; i = nextIndex++) {
        const kind = i % 5 === 0 ? 'weather' : 'soil'
        const id = `dev-${i}`
        const v = villageOf(i)
        const { secret } = await registry.addDevice({ id, village: v, kind, format: 'json' })
        devices[i] = { id, village: v, secret, kind }
      }
    }
    await Promise.all(Array.from({ length: Math.min(concurrency, count) }, registerNext))
    return { devices, readingsPerRound: devices.reduce((n, d) => n + (d.kind === 'weather' ? 6 : 4), 0) }
  } finally {
    await registry.stop()
  }
}

/** Threads of the load generator (bench/load-client.ts). */
export const LOAD_WORKERS = 2

/** Run the load generator (LOAD_WORKERS worker threads) against an MQTT port until every PUBACK. */
export async function runLoad(
  port: number,
  devices: LoadDevice[],
  messagesPerDevice: number,
  window: number,
  baseTimeMs = Date.UTC(2026, 10, 1),
  /** Called once every packet is built, just before the first publish (e.g. to read CPU counters). */
  onGo?: () => void,
  /** Device time between two reports of one device (replayed as fast as they are accepted). */
  intervalMs = 1000,
): Promise<LoadResult[]> {
  const workers = Array.from({ length: LOAD_WORKERS }, (_, w) => {
    const job: LoadJob = {
      port,
      devices: devices.filter((_, i) => i % LOAD_WORKERS === w),
      messagesPerDevice,
      window,
      baseTimeMs,
      intervalMs,
    }
    // A worker does not inherit tsx's loader: register it inside, then load the TypeScript module.
    const boot = `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(new URL('./load-client.ts', import.meta.url).href)}) })`
    return new Worker(boot, { eval: true, workerData: job })
  })
  try {
    await Promise.all(workers.map((w) => new Promise((r) => w.once('message', r))))
    onGo?.()
    return await Promise.all(
      workers.map(
        (w) =>
          new Promise<LoadResult>((resolve, reject) => {
            w.once('message', (m: { ok: boolean; result?: LoadResult; error?: string }) =>
              m.ok ? resolve(m.result!) : reject(new Error(m.error)),
            )
            w.once('error', reject)
            w.postMessage('go')
          }),
      ),
    )
  } finally {
    await Promise.all(workers.map((w) => w.terminate()))
  }
}
