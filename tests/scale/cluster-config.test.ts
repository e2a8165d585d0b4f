import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { KampungApp } from '../../src/app.ts'
import { type ConfigError, loadConfig, parseConfig } from '../../src/config.ts'

describe('broker.cluster and peer adoption settings', () => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'kampung-cluster-config-'))
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }))

  it('takes the Redis URL from the file or KAMPUNG_BROKER_REDIS_URL, with the delivery default', () => {
    const env = { KAMPUNG_BROKER_REDIS_URL: 'redis://10.0.0.5:6379/2' }
    expect(loadConfig({ env }).broker.cluster).toEqual({
      redisUrl: 'redis://10.0.0.5:6379/2',
      maxSessionDelivery: 100_000,
    })
    expect(parseConfig({}).broker.cluster).toBeUndefined()
    expect(
      loadConfig({ env: { KAMPUNG_INGEST_MQTT_ADOPT_PEERS_AFTER_S: '0' } }).ingest.mqtt.adoptPeersAfterS,
    ).toBe(0)
    expect(parseConfig({}).ingest.mqtt.adoptPeersAfterS).toBe(5)
  })

  it('reports a bad Redis URL and an unknown key with their paths', () => {
    let problems: string[] = []
    try {
      parseConfig({ broker: { cluster: { redisUrl: 'http://x', replicas: 2 } } })
    } catch (err) {
      problems = (err as ConfigError).problems
    }
    expect(problems.some((p) => p.startsWith('broker.cluster.redisUrl: must be a redis://'))).toBe(true)
    expect(problems.some((p) => p.startsWith('broker.cluster') && /replicas/.test(p))).toBe(true)
  })

  it('refuses in-process ingest on a clustered broker before opening anything', async () => {
    const config = parseConfig({
      dataDir,
      broker: { host: '127.0.0.1', port: 0, cluster: { redisUrl: 'redis://127.0.0.1:1' } },
      api: { enabled: false },
    })
    const app = new KampungApp(config)
    await expect(app.start()).rejects.toMatchObject({ code: 'config_invalid', retryable: false })
    await app.stop()
  })
})
