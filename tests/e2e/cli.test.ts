import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { afterAll, describe, expect, it } from 'vitest'
import { mosquittoPub } from '../harness/clients.ts'
import { freePort } from '../harness/ports.ts'
import { serviceEnv, spawnKampung } from '../harness/process.ts'

const run = promisify(execFile)

/** An operator's first session: start the system, register a device, publish, read it back, stop. */
describe('kampung CLI, as a newcomer uses it', () => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'kampung-cli-'))
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }))

  it('up → villages add → devices add → mosquitto_pub → readings → Ctrl-C', async () => {
    const env = serviceEnv({ dataDir, mqttPort: await freePort(), apiPort: await freePort() })
    const kampung = (...args: string[]) =>
      run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
        env: { ...process.env, ...env, KAMPUNG_LOG_LEVEL: 'warn' },
      })

    const up = spawnKampung(['up'], env)
    try {
      await up.waitForOutput(
        /smart-kampung running: MQTT broker on 127\.0\.0\.1:\d+, API on http:\/\/127\.0\.0\.1:\d+; store: SQLite/,
      )

      await kampung('villages', 'add', 'kemiren', '--name', 'Kemiren')
      const added = await kampung(
        'devices',
        'add',
        'soil-01',
        '--village',
        'kemiren',
        '--kind',
        'soil',
        '--format',
        'json',
      )
      const secret = /secret: (\S+)/.exec(added.stdout)?.[1]
      expect(secret, added.stdout).toBeTruthy()
      expect(added.stdout).toMatch(/will not be shown again/)

      const ts = Date.now() - 60_000
      const pub = await mosquittoPub({
        port: Number(env.KAMPUNG_MQTT_PORT),
        username: 'soil-01',
        password: secret!,
        topic: 'kampung/kemiren/soil-01/up',
        message: JSON.stringify({ ts, values: { soil_moisture: 27.5 } }),
      })
      expect(pub.code, pub.stderr).toBe(0)

      const readings = await kampung('readings', 'soil_moisture', '--device', 'soil-01', '--since', '1h')
      expect(readings.stdout.trim()).toBe(`${new Date(ts).toISOString()}  kemiren/soil-01/main  27.5 %VWC`)

      const bad = await kampung('readings', 'wetness').catch((err: { code: number; stderr: string }) => err)
      expect(bad).toMatchObject({ code: 1, stderr: expect.stringContaining('unknown quantity "wetness"') })

      // (every bad --limit is in tests/unit/cli-options.test.ts; here that the command uses the check)
      const refused = await kampung('readings', 'soil_moisture', '--limit', '-5').catch(
        (err: { code: number; stderr: string }) => err,
      )
      expect(refused).toMatchObject({
        code: 1,
        stderr: expect.stringContaining('--limit must be a whole number of 1 or more, not "-5"'),
      })

      // A shell whose environment names another store still reads what the service stores, and says so.
      const elsewhere = await run(
        process.execPath,
        [
          '--import',
          'tsx',
          'src/cli/main.ts',
          'readings',
          'soil_moisture',
          '--device',
          'soil-01',
          '--since',
          '1h',
        ],
        {
          env: {
            ...process.env,
            ...env,
            KAMPUNG_LOG_LEVEL: 'warn',
            KAMPUNG_STORE: 'influx',
            KAMPUNG_INFLUX_URL: 'http://127.0.0.1:9',
          },
        },
      )
      expect(elsewhere.stdout.trim()).toBe(`${new Date(ts).toISOString()}  kemiren/soil-01/main  27.5 %VWC`)
      expect(elsewhere.stderr).toMatch(
        /store: SQLite .*telemetry\.db \(the running service's, pid \d+\); this command's configuration names InfluxDB http:\/\/127\.0\.0\.1:9/,
      )
    } finally {
      const code = await up.kill('SIGINT')
      expect(code).toBe(0)
      expect(up.output()).toMatch(/stopping: draining buffers[\s\S]*stopped/)
    }
    // once the service is gone the command says whose store it reads
    const after = await kampung('readings', 'soil_moisture', '--since', '1h')
    expect(after.stderr).toMatch(/store: SQLite .*telemetry\.db \(from this command's configuration\)/)
  }, 120_000)

  it('refuses a bad config file, listing every problem with its path', async () => {
    const file = path.join(dataDir, 'bad.yaml')
    const { writeFileSync } = await import('node:fs')
    writeFileSync(file, 'broker:\n  port: "high"\n  colour: blue\nstore:\n  kind: mongo\n')
    const out = await run(process.execPath, [
      '--import',
      'tsx',
      'src/cli/main.ts',
      'config',
      '-c',
      file,
    ]).catch((err: { code: number; stderr: string }) => err)
    expect(out).toMatchObject({ code: 1 })
    const stderr = (out as { stderr: string }).stderr
    expect(stderr).toContain('broker.port:')
    expect(stderr).toContain('colour')
    expect(stderr).toContain('store.kind:')
  })

  it('prints the effective config with every credential redacted', async () => {
    const { writeFileSync } = await import('node:fs')
    const file = path.join(dataDir, 'secrets.yaml')
    const secrets = {
      influxPassword: 'influx-pw-1f9c',
      influxToken: 'influx-token-77ab',
      kannelPassword: 'kannel-pw-3d2e',
      callbackToken: 'dlr-token-9a8b-5c6d7e',
      metricsToken: 'metrics-token-4e5f6a7b',
      mqttPassword: 'mqtt-pw-5c4d',
      redisPassword: 'redis-pw-6e7f',
      smppPassword: 'smpp-pw-0b1a',
    }
    writeFileSync(
      file,
      [
        'broker:',
        '  cluster:',
        `    redisUrl: "redis://:${secrets.redisPassword}@10.0.0.5:6379"`,
        'ingest:',
        '  mode: mqtt',
        '  mqtt:',
        '    url: mqtt://10.0.0.6:1883',
        '    username: ingest',
        `    password: ${secrets.mqttPassword}`,
        'store:',
        '  kind: influx',
        '  influx:',
        '    username: kampung',
        `    password: ${secrets.influxPassword}`,
        `    token: ${secrets.influxToken}`,
        'api:',
        `  metricsToken: ${secrets.metricsToken}`,
        'notify:',
        '  sender: kannel',
        '  kannel:',
        `    password: ${secrets.kannelPassword}`,
        `    callbackToken: ${secrets.callbackToken}`,
        '',
      ].join('\n'),
    )
    const out = await run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'config', '-c', file], {
      env: { ...process.env, KAMPUNG_SMPP_PASSWORD: secrets.smppPassword, KAMPUNG_LOG_LEVEL: 'warn' },
    })
    for (const secret of Object.values(secrets)) expect(out.stdout).not.toContain(secret)
    const printed = JSON.parse(out.stdout)
    expect(printed.store.influx).toMatchObject({ username: 'kampung', password: '***', token: '***' })
    expect(printed.notify.kannel).toMatchObject({ password: '***', callbackToken: '***' })
    expect(printed.notify.smpp.password).toBe('***')
    expect(printed.api.metricsToken).toBe('***')
    expect(printed.ingest.mqtt).toMatchObject({ username: 'ingest', password: '***' })
    expect(printed.broker.cluster.redisUrl).toBe('redis://:***@10.0.0.5:6379')
    // what is not a credential is printed as it is
    expect(printed.store.influx.url).toBe('http://127.0.0.1:8086')
  })
})
