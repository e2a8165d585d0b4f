import { execFile, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { afterAll, describe, expect, it } from 'vitest'
import { freePort } from '../harness/ports.ts'
import { serviceEnv } from '../harness/process.ts'

const run = promisify(execFile)

/**
 * What a newcomer does first: `npm start` (embedded defaults plus the simulated district), look
 * at readings within a minute, Ctrl-C. Only the data dir and ports are moved, so the test does
 * not collide with anything else on the machine.
 */
describe('npm start', () => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'kampung-start-'))
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }))

  it('brings the system up with a simulated district; readings are queryable within a minute; Ctrl-C exits cleanly', async () => {
    const env = {
      ...process.env,
      ...serviceEnv({ dataDir, mqttPort: await freePort(), apiPort: await freePort() }),
    }
    delete env.VITEST
    // Its own process group, so Ctrl-C can be delivered as a terminal does: to the whole group.
    const child = spawn('npm', ['start'], { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
    let out = ''
    child.stdout.on('data', (d) => {
      out += d.toString()
    })
    child.stderr.on('data', (d) => {
      out += d.toString()
    })
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
    const startedAt = Date.now()
    try {
      const waitFor = async (pattern: RegExp, ms: number) => {
        const deadline = Date.now() + ms
        while (!pattern.test(out)) {
          if (Date.now() > deadline || child.exitCode !== null)
            throw new Error(`no ${pattern} in:\n${out.slice(-2000)}`)
          await new Promise((r) => setTimeout(r, 100))
        }
      }
      await waitFor(
        /smart-kampung running: MQTT broker on 127\.0\.0\.1:\d+, API on http:\/\/127\.0\.0\.1:\d+/,
        30_000,
      )
      await waitFor(/simulated district: 3 villages \(kemiren, olehsari, glagah\), 18 nodes/, 30_000)
      await waitFor(
        /nodes 18\/18 online \| [1-9]\d* reports\/s forwarded \| [1-9]\d* readings\/s stored/,
        60_000,
      )
      // caught up with the present ("(catching up)" gone) and every queued report forwarded
      await waitFor(
        /WIB \| nodes 18\/18 online \| \d+ reports\/s forwarded \| \d+ readings\/s stored \| queued 0 \| rejected 0/,
        60_000,
      )

      const kampung = (...args: string[]) =>
        run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
          env: { ...env, KAMPUNG_LOG_LEVEL: 'warn' },
        })
      const soil = await kampung(
        'readings',
        'soil_moisture',
        '--village',
        'kemiren',
        '--since',
        '1h',
        '--limit',
        '3',
      )
      const lines = soil.stdout.trim().split('\n')
      expect(lines, soil.stdout + soil.stderr).toHaveLength(3)
      for (const line of lines)
        expect(line).toMatch(
          /^\d{4}-\d\d-\d\dT[\d:.]+Z {2}kemiren\/kemiren-sawah\d\/main {2}\d+(\.\d+)? %VWC$/,
        )
      const stems = await kampung('readings', 'stem_diameter', '--since', '1h', '--limit', '1')
      expect(stems.stdout).toMatch(/-pohon\d\/main {2}\d+(\.\d+)? um/)
      // which store was read goes to stderr: the running service's
      expect(stems.stderr).toMatch(/^store: SQLite .*telemetry\.db \(the running service's, pid \d+\)$/m)

      // The README's promise: the SMS a farmer would get, printed by the console sender. Kemiren's
      // SAWAH3 starts dry (a demo field); its demo farmer has no quiet hours, so at any hour.
      await waitFor(/SMS to \+6281200000001: SAWAH3 kering: kelembapan tanah \d+% \(batas \d+%\)/, 30_000)
      expect(Date.now() - startedAt).toBeLessThan(60_000)
    } finally {
      process.kill(-child.pid!, 'SIGINT')
      await exited // npm itself ends on the signal, as in a terminal; the service drains and exits 0
      const deadline = Date.now() + 15_000
      while (!/"stopped"/.test(out) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100))
      expect(out).toMatch(/stopping: draining buffers[\s\S]*gateway stopped; queue empty[\s\S]*"stopped"/)
      // nothing of the group is left running
      await new Promise((r) => setTimeout(r, 500))
      expect(() => process.kill(-child.pid!, 0)).toThrow(/ESRCH/)
    }
  }, 120_000)
})
