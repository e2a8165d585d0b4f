import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import mqtt from 'mqtt'
import { afterAll, describe, expect, it } from 'vitest'
import { commandsCommand } from '../../src/cli/commands.ts'
import { CommandService, defaultCommandOptions } from '../../src/commands/index.ts'
import { Registry } from '../../src/registry/index.ts'
import { SCHEMAS } from '../../src/schemas.ts'
import { waitFor } from '../harness/app.ts'
import { freePort } from '../harness/ports.ts'
import { type KampungProcess, serviceEnv, spawnKampung } from '../harness/process.ts'

const run = promisify(execFile)

/**
 * `kampung commands` against a running `kampung up`, and the service SIGKILLed between the send and
 * the device's acknowledgement: the command survives in the registry file, goes out again when the
 * device is back, and is acknowledged once.
 */
describe('kampung commands, and the service killed before the ack', () => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'kampung-cmd-cli-'))
  let up: KampungProcess | undefined
  const registries: Registry[] = []
  const registryPath = path.join(dataDir, 'registry.db')
  afterAll(async () => {
    await up?.kill('SIGKILL')
    for (const r of registries) await r.stop()
    rmSync(dataDir, { recursive: true, force: true })
  })

  it('send → delivered → SIGKILL → restart → delivered again → ack → show', async () => {
    const env = serviceEnv({ dataDir, mqttPort: await freePort(), apiPort: await freePort() })
    const kampung = async (...args: string[]) =>
      (
        await run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
          env: { ...process.env, ...env, KAMPUNG_LOG_LEVEL: 'warn' },
        })
      ).stdout
    const started = /smart-kampung running/
    up = spawnKampung(['up'], env)
    await up.waitForOutput(started)
    // Set up and watched in-process on the same registry file (each CLI run costs seconds here).
    const registry = new Registry({ path: registryPath, schemas: SCHEMAS })
    await registry.start()
    registries.push(registry)
    registry.addVillage({ id: 'kemiren', name: 'Kemiren' })
    const { secret } = await registry.addDevice({
      id: 'sawah-1',
      village: 'kemiren',
      kind: 'soil',
      format: 'json',
    })
    const commands = new CommandService({ ...defaultCommandOptions, registry })
    await commands.start()

    const device = await mqtt.connectAsync(`mqtt://127.0.0.1:${env.KAMPUNG_MQTT_PORT}`, {
      clientId: 'sawah-1',
      username: 'sawah-1',
      password: secret,
      protocolVersion: 4,
      reconnectPeriod: 200,
    })
    try {
      const received: string[] = []
      device.on('message', (_t, payload) =>
        received.push((JSON.parse(payload.toString()) as { id: string }).id),
      )
      await device.subscribeAsync('kampung/kemiren/sawah-1/down', { qos: 1 })

      const sent = await kampung(
        'commands',
        'send',
        'sawah-1',
        'set_config',
        '--param',
        'reportIntervalS=600',
        '--id',
        'cli-1',
      )
      expect(sent).toMatch(/^queued: cli-1 {2}sawah-1 {2}set_config \{"reportIntervalS":600\} {2}queued/)
      // The service picks the queued command up from the registry file and sends it.
      await waitFor('delivered', () => received.length === 1, 15_000)
      await waitFor('sent', () => commands.get('cli-1')?.state === 'sent', 10_000)

      // Killed, no drain, before the device answers.
      await up.kill('SIGKILL')
      up = spawnKampung(['up'], env)
      await up.waitForOutput(started)
      await waitFor('delivered again after the restart', () => received.length >= 2, 20_000)
      expect(new Set(received)).toEqual(new Set(['cli-1']))
      await device.publishAsync('kampung/kemiren/sawah-1/ack', JSON.stringify({ id: 'cli-1', ok: true }), {
        qos: 1,
      })
      await device.publishAsync('kampung/kemiren/sawah-1/ack', JSON.stringify({ id: 'cli-1', ok: true }), {
        qos: 1,
      })
      // show, list and a repeated send, in-process (the same commander commands; a CLI run costs seconds)
      const out: string[] = []
      const cli = (...args: string[]) =>
        commandsCommand(
          async () => {
            const r = new Registry({ path: registryPath, schemas: SCHEMAS })
            await r.start()
            return r
          },
          () => defaultCommandOptions,
          { out: (l) => out.push(l), err: (l) => out.push(`ERR ${l}`) },
        ).parseAsync(['node', 'commands', ...args])
      await cli('show', 'cli-1')
      const shown = JSON.parse(out.join('\n'))
      expect(shown).toMatchObject({ id: 'cli-1', state: 'acknowledged', acks: 2 })
      expect(shown.sends).toBeGreaterThanOrEqual(2)
      out.length = 0
      await cli('send', 'sawah-1', 'set_config', '--param', 'reportIntervalS=600', '--id', 'cli-1')
      expect(out).toEqual([expect.stringMatching(/^already there: cli-1 .* acknowledged/)])
      out.length = 0
      await cli('list', 'sawah-1')
      expect(out).toEqual([expect.stringMatching(/^cli-1 {2}sawah-1 {2}set_config .* acknowledged/)])
      out.length = 0
      await cli('send', 'sawah-1', 'set_config', '--param', 'reportIntervalS=60', '--id', 'cli-1')
      expect(out).toEqual([expect.stringMatching(/^ERR error: command cli-1 exists with other content/)])
      process.exitCode = undefined
    } finally {
      await device.endAsync(true)
    }
  }, 90_000)
})
