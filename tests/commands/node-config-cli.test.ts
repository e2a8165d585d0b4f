import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { AuditLog } from '../../src/audit/index.ts'
import { deviceConfigCommand } from '../../src/cli/device-config.ts'
import { CommandService, defaultCommandOptions, NodeConfigService } from '../../src/commands/index.ts'
import { Registry } from '../../src/registry/index.ts'
import { SCHEMAS } from '../../src/schemas.ts'
import { waitFor } from '../harness/app.ts'

/** `kampung devices config`, in-process (the same commander command; a CLI run costs seconds). */
describe('kampung devices config', () => {
  let dir: string
  let registryPath: string
  const out: string[] = []

  const open = async () => {
    const r = new Registry({ path: registryPath, schemas: SCHEMAS })
    await r.start()
    return r
  }
  const cli = async (...args: string[]) => {
    out.length = 0
    await deviceConfigCommand(open, () => defaultCommandOptions, {
      out: (l) => out.push(l),
      err: (l) => out.push(`ERR ${l}`),
    }).parseAsync(['node', 'config', ...args])
    const code = process.exitCode
    process.exitCode = undefined
    return { out: [...out], code }
  }

  beforeEach(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'kampung-config-cli-'))
    registryPath = path.join(dir, 'registry.db')
    const r = await open()
    r.addVillage({ id: 'kemiren', name: 'Kemiren' })
    await r.addDevice({ id: 'kemiren-sawah1', village: 'kemiren', kind: 'soil', format: 'json' })
    await r.stop()
  })
  afterEach(() => rmSync(dir, { recursive: true, force: true }))

  it('shows desired against reported, makes a version per change, and says what the node applied', async () => {
    expect((await cli('kemiren-sawah1')).out).toEqual([
      'kemiren-sawah1: none',
      '  desired   none',
      '  reported  nothing yet',
    ])
    const set = await cli('kemiren-sawah1', '--set', 'reportIntervalS=600', '--set', 'dryThresholdPct=20')
    expect(set.out[0]).toBe('version 1 queued as config-kemiren-sawah1-v1')
    expect(set.out[1]).toMatch(/^kemiren-sawah1: waiting since \S+Z \(queued\)$/)
    expect(set.out[2]).toMatch(/^ {2}desired {3}v1 {2}reportIntervalS=600 dryThresholdPct=20 {2}by cli:/)
    // The same again (merged with the current one): no new version.
    expect((await cli('kemiren-sawah1', '--set', 'reportIntervalS=600')).out[0]).toBe(
      'no change: version 1 is that configuration',
    )
    const unset = await cli('kemiren-sawah1', '--unset', 'dryThresholdPct')
    expect(unset.out[0]).toBe('version 2 queued as config-kemiren-sawah1-v2')
    expect(unset.out[2]).toMatch(/^ {2}desired {3}v2 {2}reportIntervalS=600 {2}by cli:/)
    const refused = await cli('kemiren-sawah1', '--set', 'reportIntervalS=0')
    expect(refused).toEqual({
      out: ['ERR error: reportIntervalS: Too small: expected number to be >=1'],
      code: 1,
    })
    expect((await cli('no-such-node')).out).toEqual(['ERR error: no device no-such-node'])

    // The service delivers version 2 and the node answers with what it applied.
    const registry = await open()
    const sent: string[] = []
    const commands = new CommandService({
      ...defaultCommandOptions,
      registry,
      link: { publishDown: async (_d, payload) => void sent.push(payload) },
    })
    const config = new NodeConfigService({ registry, commands, expiryS: 3_600 })
    await commands.start()
    await config.start()
    commands.onStatus({ device: 'kemiren-sawah1', village: 'kemiren', state: 'online', atMs: Date.now() })
    await waitFor('version 2 sent', () => commands.get('config-kemiren-sawah1-v2')?.state === 'sent')
    expect(sent.map((p) => JSON.parse(p))).toEqual([
      expect.objectContaining({
        id: 'config-kemiren-sawah1-v2',
        params: { version: 2, reportIntervalS: 600 },
      }),
    ])
    commands.onAck(
      'kemiren-sawah1',
      JSON.stringify({
        id: 'config-kemiren-sawah1-v2',
        ok: true,
        config: { version: 2, reportIntervalS: 600 },
      }),
    )
    await config.stop()
    await commands.stop()
    await registry.stop()
    const shown = await cli('kemiren-sawah1')
    expect(shown.out[0]).toBe('kemiren-sawah1: in sync')
    expect(shown.out[2]).toMatch(/^ {2}reported {2}v2 {2}reportIntervalS=600 {2}at \S+Z$/)
    const json = JSON.parse((await cli('kemiren-sawah1', '--json')).out.join('\n'))
    expect(json).toMatchObject({ status: 'in_sync', desired: { version: 2 }, reported: { version: 2 } })
    expect(json.history.map((h: { version: number; state: string }) => [h.version, h.state])).toEqual([
      [2, 'acknowledged'],
      [1, 'expired'],
    ])

    const r = await open()
    const audited = new AuditLog(r).list().filter((e) => e.action === 'config.set')
    expect(audited.map((e) => [e.actor.startsWith('cli:'), e.detail])).toEqual([
      [true, { version: 2, settings: { reportIntervalS: 600 } }],
      [true, { version: 1, settings: { reportIntervalS: 600, dryThresholdPct: 20 } }],
    ])
    await r.stop()
  })
})
