import { Fleet, type NodeDriver, type SimVillage } from '../../firmware-sim/index.ts'
import type { TestApp } from './app.ts'

/**
 * A simulated district's gateways and nodes on the test app's embedded broker, reporting every
 * second from `startMs` (caught up at 1 000× the real pace, then live), started.
 */
export async function liveFleet(
  t: TestApp,
  o: { villages: SimVillage[]; secrets: ReadonlyMap<string, string>; startMs: number; driver: NodeDriver },
): Promise<Fleet> {
  const fleet = new Fleet({
    villages: o.villages,
    url: `mqtt://127.0.0.1:${t.mqttPort}`,
    dataDir: t.dataDir,
    secrets: o.secrets,
    reportIntervalMs: 1_000,
    startMs: o.startMs,
    speed: 1_000,
    tickMs: 100,
    driver: o.driver,
  })
  await fleet.start()
  return fleet
}
