import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Command } from 'commander'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { devicesCommand, villagesCommand } from '../../src/cli/devices.ts'
import { Registry } from '../../src/registry/index.ts'
import { SCHEMAS } from '../../src/schemas.ts'

describe('devices / villages commands', () => {
  let dir: string
  let out: string[]
  let err: string[]

  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'kampung-cli-'))
    process.exitCode = undefined
  })

  afterEach(() => {
    process.exitCode = undefined
    rmSync(dir, { recursive: true, force: true })
  })

  /** One CLI invocation, like a fresh `kampung …` process: a new registry each time. */
  async function kampung(...argv: string[]): Promise<{ out: string[]; err: string[]; exitCode: number }> {
    out = []
    err = []
    const io = { out: (l: string) => out.push(l), err: (l: string) => err.push(l) }
    const getRegistry = async () => {
      const registry = new Registry({ path: path.join(dir, 'registry.db'), schemas: SCHEMAS })
      await registry.start()
      return registry
    }
    const program = new Command('kampung')
      .exitOverride()
      .configureOutput({ writeErr: (s) => err.push(s.trimEnd()), writeOut: (s) => out.push(s.trimEnd()) })
    program.addCommand(devicesCommand(getRegistry, io)).addCommand(villagesCommand(getRegistry, io))
    for (const c of program.commands) {
      c.exitOverride()
      for (const sub of c.commands)
        sub.exitOverride().configureOutput({ writeErr: (s) => err.push(s.trimEnd()) })
    }
    let exitCode = 0
    try {
      await program.parseAsync(argv, { from: 'user' })
    } catch (e) {
      exitCode = (e as { exitCode?: number }).exitCode ?? 1
    }
    exitCode = exitCode || Number(process.exitCode ?? 0)
    process.exitCode = undefined
    return { out, err, exitCode }
  }

  it('adds a village and a device, printing the secret once with a warning', async () => {
    expect((await kampung('villages', 'add', 'kemiren', '--name', 'Desa Kemiren')).out).toEqual([
      'village kemiren: Desa Kemiren',
    ])
    const added = await kampung(
      ...['devices', 'add', 'soil-01', '--village', 'kemiren', '--kind', 'soil', '--format', 'lpp'],
      ...[
        '--lat',
        '-8.21',
        '--lon',
        '114.33',
        '--channels',
        '{"1":{"quantity":"soil_moisture","sensor":"soil1"}}',
      ],
    )
    expect(added.exitCode).toBe(0)
    expect(added.out[0]).toBe('added device soil-01 (soil, lpp) in village kemiren')
    expect(added.out[1]).toMatch(/^secret: [A-Za-z0-9_-]{32}$/)
    expect(added.out[2]).toContain('will not be shown again')

    const list = await kampung('devices', 'list')
    expect(list.out[0]).toMatch(/^ID\s+VILLAGE\s+KIND\s+FORMAT\s+LAT\s+LON\s+CREATED$/)
    expect(list.out[1]).toMatch(/^soil-01\s+kemiren\s+soil\s+lpp\s+-8.21\s+114.33\s+\d{4}-/)
    const json = JSON.parse(
      (await kampung('devices', 'list', '--json', '--village', 'kemiren')).out.join('\n'),
    )
    expect(json).toMatchObject([{ id: 'soil-01', channels: { '1': { quantity: 'soil_moisture' } } }])
    expect((await kampung('villages', 'list')).out).toEqual([
      'ID       NAME          DEVICES',
      'kemiren  Desa Kemiren  1',
    ])

    const rotated = await kampung('devices', 'rotate-secret', 'soil-01')
    expect(rotated.out[1]).toMatch(/^secret: /)
    expect(rotated.out[1]).not.toBe(added.out[1])
  })

  it('reports user errors in one line with exit code 1, no stack trace', async () => {
    await kampung('villages', 'add', 'kemiren', '--name', 'Desa Kemiren')
    const cases: Array<[string[], string]> = [
      [
        ['devices', 'add', 'soil-02', '--village', 'nowhere', '--kind', 'soil', '--format', 'json'],
        'village "nowhere" does not exist',
      ],
      [
        ['devices', 'add', 'Soil', '--village', 'kemiren', '--kind', 'soil', '--format', 'json'],
        "a-z, 0-9, '_' and '-'",
      ],
      [
        ['devices', 'add', 'x', '--village', 'kemiren', '--kind', 'robot', '--format', 'json'],
        'Allowed choices are soil',
      ],
      [
        ['devices', 'add', 'x', '--village', 'kemiren', '--kind', 'soil', '--format', 'json', '--lat', '95'],
        'lat must be a number',
      ],
      [
        [
          'devices',
          'add',
          'x',
          '--village',
          'kemiren',
          '--kind',
          'soil',
          '--format',
          'json',
          '--channels',
          '{',
        ],
        'not valid JSON',
      ],
      [['devices', 'rotate-secret', 'ghost'], 'device "ghost" is not registered'],
      [['devices', 'remove', 'ghost'], 'device "ghost" is not registered'],
    ]
    for (const [argv, message] of cases) {
      const result = await kampung(...argv)
      expect(result.exitCode, argv.join(' ')).toBe(1)
      expect(result.err.join('\n')).toContain(message)
      expect(result.err.join('\n')).not.toContain('    at ')
    }
  })
})
