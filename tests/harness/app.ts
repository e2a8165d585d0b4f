import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { KampungApp } from '../../src/app.ts'
import { type ConfigInput, parseConfig } from '../../src/config.ts'
import type { NewDevice } from '../../src/registry/types.ts'

export interface TestApp {
  app: KampungApp
  dataDir: string
  mqttPort: number
  apiUrl: string
  /** Register a device and return its one-time secret. */
  addDevice(d: Partial<NewDevice> & { id: string; village: string }): Promise<string>
  stop(): Promise<void>
}

/** The all-in-one service on free ports with a fresh data dir; store per `overrides`. */
export async function startApp(overrides: ConfigInput = {}, dataDir?: string): Promise<TestApp> {
  const dir = dataDir ?? mkdtempSync(path.join(os.tmpdir(), 'kampung-app-'))
  const config = parseConfig({
    ...overrides,
    dataDir: dir,
    broker: { host: '127.0.0.1', port: 0, ...overrides.broker },
    api: { host: '127.0.0.1', port: 0, ...overrides.api },
  })
  const app = new KampungApp(config)
  await app.start()
  return {
    app,
    dataDir: dir,
    mqttPort: app.broker?.port ?? 0,
    apiUrl: `http://127.0.0.1:${app.api?.port ?? 0}`,
    async addDevice(d) {
      if (!app.registry.getVillage(d.village)) app.registry.addVillage({ id: d.village, name: d.village })
      const { secret } = await app.registry.addDevice({ kind: 'soil', format: 'json', ...d })
      return secret
    },
    async stop() {
      await app.stop()
      if (!dataDir) rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** Poll until `check` returns true or the time is up (then fail with `what`). */
export async function waitFor(
  what: string,
  check: () => Promise<boolean> | boolean,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}
