import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Command } from 'commander'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { parseAlertsConfig } from '../../src/alerts/index.ts'
import { alertsCommands } from '../../src/cli/alerts.ts'
import { villagesCommand } from '../../src/cli/devices.ts'
import { Registry } from '../../src/registry/index.ts'
import { SCHEMAS } from '../../src/schemas.ts'

describe('fields / farmers / officers / alerts commands', () => {
  let dir: string
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'kampung-alerts-cli-'))
    process.exitCode = undefined
  })
  afterEach(() => {
    process.exitCode = undefined
    rmSync(dir, { recursive: true, force: true })
  })

  /** One invocation, like a fresh `kampung …` process. */
  async function kampung(...argv: string[]): Promise<{ out: string[]; err: string[]; exitCode: number }> {
    const out: string[] = []
    const err: string[] = []
    const io = { out: (l: string) => out.push(l), err: (l: string) => err.push(l) }
    const getRegistry = async () => {
      const registry = new Registry({ path: path.join(dir, 'registry.db'), schemas: SCHEMAS })
      await registry.start()
      return registry
    }
    const program = new Command('kampung')
      .exitOverride()
      .configureOutput({ writeErr: (s) => err.push(s.trimEnd()) })
    program.addCommand(villagesCommand(getRegistry, io))
    for (const c of alertsCommands(getRegistry, () => parseAlertsConfig({}), io)) program.addCommand(c)
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

  it('registers fields, farmers (phones normalised to E.164), subscriptions, officers; lists; acks and silences', async () => {
    await kampung('villages', 'add', 'kemiren', '--name', 'Kemiren')
    const field = await kampung(
      ...['fields', 'add', 'kemiren-sawah1', '--village', 'kemiren', '--name', 'SAWAH1', '--crop', 'chili'],
      ...['--planted', '2026-09-01T07:00:00+07:00', '--area-ha', '0.15'],
    )
    expect(field.out).toEqual(['added field kemiren-sawah1 (SAWAH1, chili, 0.15 ha) in village kemiren'])
    const noDate = await kampung(
      'fields',
      'add',
      'f2',
      '--village',
      'kemiren',
      '--name',
      'F2',
      '--crop',
      'maize',
      '--area-ha',
      '0',
    )
    expect(noDate.exitCode).toBe(1)
    expect(noDate.err[0]).toBe(
      'error: give a planting date or a growth stage; areaHa: a number of hectares > 0',
    )

    const farmer = await kampung(
      'farmers',
      'add',
      'pak-budi',
      '--name',
      'Pak Budi',
      '--phone',
      '0812-3456-7890',
      '--quiet',
      '22:00-05:30',
    )
    expect(farmer.out).toEqual(['added farmer pak-budi (+6281234567890, id, quiet 22:00-05:30)'])
    expect((await kampung('farmers', 'add', 'x', '--name', 'X', '--phone', '12345')).exitCode).toBe(1)
    expect((await kampung('farmers', 'subscribe', 'pak-budi', 'kemiren-sawah1')).out).toEqual([
      'pak-budi subscribed to kemiren-sawah1',
    ])
    const farmers = await kampung('farmers', 'list')
    expect(farmers.out[1]).toMatch(
      /^pak-budi\s+Pak Budi\s+\+6281234567890\s+id\s+22:00-05:30\s+kemiren-sawah1$/,
    )
    expect(
      (
        await kampung(
          'officers',
          'add',
          'kades',
          '--name',
          'Pak Kades',
          '--phone',
          '+6281200000009',
          '--village',
          'kemiren',
        )
      ).exitCode,
    ).toBe(0)

    // An alert written by the service; the CLI acknowledges it.
    const registry = new Registry({ path: path.join(dir, 'registry.db'), schemas: SCHEMAS })
    await registry.start()
    registry
      .database()
      .prepare(
        `INSERT INTO alerts (rule, subject, category, village, field, severity, state, value, threshold, started_at_ms, fired_at_ms, updated_at_ms)
         VALUES ('dry', 'field:kemiren-sawah1', 'field', 'kemiren', 'kemiren-sawah1', 'warning', 'firing', 18, 25, 1, 1, 1)`,
      )
      .run()
    await registry.stop()
    const list = await kampung('alerts', 'list', '--state', 'firing')
    expect(list.out[1]).toMatch(/^1\s+firing\s+warning\s+dry\s+kemiren-sawah1\s+18\s/)
    expect((await kampung('alerts', 'ack', '1', '--by', 'ani')).out).toEqual([
      'alert 1 (dry, firing) acknowledged by cli:ani',
    ])
    expect((await kampung('alerts', 'ack', '9')).err).toEqual(['error: no alert 9'])
    const silence = await kampung(
      'alerts',
      'silence',
      '--until',
      '6h',
      '--village',
      'kemiren',
      '--comment',
      'maintenance',
    )
    expect(silence.out[0]).toMatch(/^silence 1 until .*: \{"village":"kemiren"\}$/)
    expect((await kampung('alerts', 'silence', '--until', '6h', '--comment', 'none')).exitCode).toBe(1)
  })

  it('fields know their soil and season: add with a texture, set measured FC/WP; impossible values refused by name', async () => {
    await kampung('villages', 'add', 'kemiren', '--name', 'Kemiren')
    const add = await kampung(
      ...['fields', 'add', 'kemiren-padi', '--village', 'kemiren', '--name', 'PADI1', '--crop', 'rice'],
      ...[
        '--planted',
        '2026-09-01T07:00:00+07:00',
        '--area-ha',
        '0.25',
        '--soil',
        'clay',
        '--season-days',
        '115',
      ],
    )
    expect(add.exitCode).toBe(0)
    const set = await kampung(
      'fields',
      'set',
      'kemiren-padi',
      '--fc',
      '41',
      '--wp',
      '24',
      '--root-depth',
      '0.6',
      '--awd-min',
      '-12',
    )
    expect(set.exitCode).toBe(0)
    expect(set.out[0]).toBe(
      'field kemiren-padi: {"soil":{"texture":"clay","fcPct":41,"wpPct":24,"rootDepthM":0.6},"seasonDays":115,"thresholds":{"waterLevelMinCm":-12}}',
    )
    const wpAboveFc = await kampung('fields', 'set', 'kemiren-padi', '--wp', '45')
    expect(wpAboveFc.exitCode).toBe(1)
    expect(wpAboveFc.err.join(' ')).toContain(
      'field kemiren-padi: soil.wpPct: the wilting point (45 %) must be below field capacity (41 %)',
    )
    const bad = await kampung('fields', 'set', 'kemiren-padi', '--p', '1.5', '--root-depth', '-1')
    expect(bad.exitCode).toBe(1)
    expect(bad.err.join(' ')).toContain('soil.p: a depletion fraction between 0 and 1, got 1.5')
    expect(bad.err.join(' ')).toContain('soil.rootDepthM: a depth in metres > 0 and ≤ 3, got -1')
    const badSoil = await kampung('fields', 'set', 'kemiren-padi', '--soil', 'peat')
    expect(badSoil.exitCode).toBe(1)
  })

  it('a field’s valve: added with the field, limits changed, refused when not a node of its village, removed', async () => {
    await kampung('villages', 'add', 'kemiren', '--name', 'Kemiren')
    const registry = new Registry({ path: path.join(dir, 'registry.db'), schemas: SCHEMAS })
    await registry.start()
    await registry.addDevice({ id: 'valve-01', village: 'kemiren', kind: 'soil', format: 'json' })
    await registry.addDevice({ id: 'gw-01', village: 'kemiren', kind: 'gateway', format: 'json' })
    await registry.stop()
    const add = await kampung(
      ...['fields', 'add', 'kemiren-sawah1', '--village', 'kemiren', '--name', 'SAWAH1', '--crop', 'rice'],
      ...['--stage', 'mid', '--area-ha', '0.25', '--valve', 'valve-01', '--valve-max-min', '45'],
    )
    expect(add.exitCode, add.err.join(' ')).toBe(0)
    const set = await kampung('fields', 'set', 'kemiren-sawah1', '--valve-day-min', '90')
    expect(set.out[0]).toBe(
      'field kemiren-sawah1: {"valve":{"device":"valve-01","maxOpenMinutes":45,"maxMinutesPerDay":90}}',
    )
    const list = await kampung('fields', 'list')
    expect(list.out[0]).toMatch(/ VALVE$/)
    expect(list.out[1]).toMatch(/ valve-01$/)
    const gateway = await kampung('fields', 'set', 'kemiren-sawah1', '--valve', 'gw-01')
    expect(gateway.exitCode).toBe(1)
    expect(gateway.err.join(' ')).toContain('valve.device: "gw-01" is a gateway; a valve is driven by a node')
    const none = await kampung('fields', 'set', 'kemiren-sawah1', '--valve', 'none')
    expect(none.out[0]).toBe('field kemiren-sawah1: {}')
  })
})
