import { Command, InvalidArgumentError, Option } from 'commander'
import { CROP_IDS, type CropId, SOIL_TEXTURE_IDS, type SoilTexture } from '../agronomy/index.ts'
import type { FieldPatch, NewField } from '../alerts/index.ts'
import {
  ALERT_STATES,
  AlertEngine,
  type AlertsConfig,
  LANGUAGES,
  type OutboxPort,
  STAGES,
} from '../alerts/index.ts'
import { AuditLog, cliActor } from '../audit/index.ts'
import { KampungError } from '../errors.ts'
import type { Registry } from '../registry/index.ts'
import { action, type CliIo, consoleIo, table } from './devices.ts'

/**
 * `kampung fields|farmers|officers|alerts …`: the alerts registry and alert operations on the
 * local registry database (like `devices`). The commands never send SMS: acknowledging or
 * silencing only changes state; the running service notices at its next tick.
 */

/** The CLI never sends: any attempt is a bug, said loudly. */
const noOutbox: OutboxPort = {
  enqueue() {
    throw new KampungError('no_outbox', 'the command line does not send SMS; the running service does', {
      retryable: false,
    })
  },
  onInbound() {},
}

function when(name: string) {
  return (value: string): number => {
    const rel = /^(\d+)([mhd])$/.exec(value)
    if (rel)
      return (
        Date.now() + Number(rel[1]) * { m: 60_000, h: 3_600_000, d: 86_400_000 }[rel[2] as 'm' | 'h' | 'd']
      )
    const t = Date.parse(value)
    if (!Number.isFinite(t))
      throw new InvalidArgumentError(`${name}: an ISO 8601 time or a duration like 6h, 2d.`)
    return t
  }
}

function num(name: string) {
  return (value: string): number => {
    const n = Number(value)
    if (value.trim() === '' || !Number.isFinite(n))
      throw new InvalidArgumentError(`${name} must be a number.`)
    return n
  }
}

/** The soil, season and threshold options `fields add` and `fields set` share. */
function agronomyOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--soil <texture>', 'FAO-56 Table 19 texture class').choices(SOIL_TEXTURE_IDS))
    .option('--fc <pct>', 'measured field capacity, % VWC', num('--fc'))
    .option('--wp <pct>', 'measured wilting point, % VWC', num('--wp'))
    .option('--root-depth <m>', 'effective root depth Zr in metres', num('--root-depth'))
    .option('--p <fraction>', 'depletion fraction p (0-1) instead of FAO-56 Table 22', num('--p'))
    .option('--calibration <slope,offset>', 'probe calibration: θ = slope · raw + offset', (v: string) => {
      const [slope, offset] = v.split(',').map(Number)
      if (!Number.isFinite(slope) || !Number.isFinite(offset))
        throw new InvalidArgumentError('--calibration: two numbers, slope,offset (e.g. 0.92,1.5)')
      return { slope: slope!, offset: offset! }
    })
    .option(
      '--season-days <days>',
      'variety duration (rice 110-125, maize hybrids 95-110)',
      num('--season-days'),
    )
    .option('--dry-below <pct>', 'this field’s own dry threshold, % VWC', num('--dry-below'))
    .option('--wet-above <pct>', 'this field’s own waterlogged threshold, % VWC', num('--wet-above'))
    .option('--awd-min <cm>', 'this paddy’s own AWD threshold, cm (default -15)', num('--awd-min'))
    .option(
      '--valve <device>',
      'the node driving the field’s valve (farmers’ AIRI / TUTUP by SMS); set: "none" removes it',
    )
    .option(
      '--valve-max-min <min>',
      'longest opening by SMS, minutes (default alerts.valves)',
      num('--valve-max-min'),
    )
    .option(
      '--valve-day-min <min>',
      'minutes open by SMS per day (default alerts.valves)',
      num('--valve-day-min'),
    )
}

/** The valve options: a valve (add), or what changes in it (set; "none" removes it). */
function valveOf(o: Record<string, unknown>): { valve?: FieldPatch['valve'] } {
  if (o.valve === 'none') return { valve: null }
  const v = Object.fromEntries(
    Object.entries({
      device: o.valve as string | undefined,
      maxOpenMinutes: o.valveMaxMin as number | undefined,
      maxMinutesPerDay: o.valveDayMin as number | undefined,
    }).filter(([, x]) => x !== undefined),
  )
  return Object.keys(v).length > 0 ? { valve: v } : {}
}

/** The agronomy part of a field from the options given (undefined keys left out). */
function agronomyOf(o: Record<string, unknown>): Pick<NewField, 'soil' | 'seasonDays' | 'thresholds'> {
  const pick = <T extends object>(x: T): T | undefined => {
    const clean = Object.fromEntries(Object.entries(x).filter(([, v]) => v !== undefined)) as T
    return Object.keys(clean).length > 0 ? clean : undefined
  }
  const soil = pick({
    texture: o.soil as SoilTexture | undefined,
    fcPct: o.fc as number | undefined,
    wpPct: o.wp as number | undefined,
    rootDepthM: o.rootDepth as number | undefined,
    p: o.p as number | undefined,
    calibration: o.calibration as { slope: number; offset: number } | undefined,
  })
  const thresholds = pick({
    dryPct: o.dryBelow as number | undefined,
    waterloggedPct: o.wetAbove as number | undefined,
    waterLevelMinCm: o.awdMin as number | undefined,
  })
  return {
    ...(soil ? { soil } : {}),
    ...(thresholds ? { thresholds } : {}),
    ...(o.seasonDays !== undefined ? { seasonDays: o.seasonDays as number } : {}),
  }
}

export function alertsCommands(
  getRegistry: () => Promise<Registry>,
  alertsConfig: () => AlertsConfig,
  io: CliIo = consoleIo,
): Command[] {
  const engineOf = (registry: Registry) =>
    new AlertEngine({ registry, outbox: noOutbox, config: alertsConfig(), timers: false })

  const fields = new Command('fields').description(
    'fields (a crop on an area, with its sensor nodes) for alerts',
  )
  agronomyOptions(
    fields
      .command('add <id>')
      .description('register a field')
      .requiredOption('--village <village>')
      .requiredOption('--name <name>', 'what the farmer calls it, e.g. SAWAH1 (used by CEK)')
      .addOption(new Option('--crop <crop>').choices(CROP_IDS).makeOptionMandatory())
      .option('--planted <date>', 'planting date, ISO 8601', when('--planted'))
      .addOption(
        new Option('--stage <stage>', 'growth stage when the planting date is unknown').choices(STAGES),
      )
      .requiredOption('--area-ha <ha>', 'area in hectares', num('--area-ha'))
      .option('--lat <deg>', 'latitude', num('--lat'))
      .option('--lon <deg>', 'longitude', num('--lon'))
      .option('--devices <ids>', 'soil nodes and AWD tubes in the field, comma-separated', (v: string) =>
        v.split(',').filter(Boolean),
      ),
  ).action(
    action(getRegistry, io, (registry, id: string, o: Record<string, unknown>) => {
      const f = engineOf(registry).directory.addField({
        ...agronomyOf(o),
        ...(valveOf(o) as Pick<NewField, 'valve'>),
        id,
        village: o.village as string,
        name: o.name as string,
        crop: o.crop as CropId,
        ...(o.planted !== undefined ? { plantedAtMs: o.planted as number } : {}),
        ...(o.stage !== undefined ? { stage: o.stage as 'mid' } : {}),
        areaHa: o.areaHa as number,
        ...(o.lat !== undefined ? { lat: o.lat as number } : {}),
        ...(o.lon !== undefined ? { lon: o.lon as number } : {}),
        devices: (o.devices as string[] | undefined) ?? [],
      })
      new AuditLog(registry).record(cliActor(), 'field.add', f.id, { village: f.village, crop: f.crop })
      io.out(`added field ${f.id} (${f.name}, ${f.crop}, ${f.areaHa} ha) in village ${f.village}`)
    }),
  )
  agronomyOptions(
    fields
      .command('set <id>')
      .description('change a field: soil, season, thresholds, crop, planting date, devices')
      .option('--name <name>')
      .addOption(new Option('--crop <crop>').choices(CROP_IDS))
      .option('--planted <date>', 'planting date, ISO 8601', when('--planted'))
      .addOption(new Option('--stage <stage>').choices(STAGES))
      .option('--area-ha <ha>', 'area in hectares', num('--area-ha'))
      .option(
        '--devices <ids>',
        'soil nodes and AWD tubes, comma-separated (replaces the list)',
        (v: string) => v.split(',').filter(Boolean),
      ),
  ).action(
    action(getRegistry, io, (registry, id: string, o: Record<string, unknown>) => {
      const patch: FieldPatch = {
        ...agronomyOf(o),
        ...valveOf(o),
        ...(o.name !== undefined ? { name: o.name as string } : {}),
        ...(o.crop !== undefined ? { crop: o.crop as CropId } : {}),
        ...(o.planted !== undefined ? { plantedAtMs: o.planted as number } : {}),
        ...(o.stage !== undefined ? { stage: o.stage as 'mid' } : {}),
        ...(o.areaHa !== undefined ? { areaHa: o.areaHa as number } : {}),
        ...(o.devices !== undefined ? { devices: o.devices as string[] } : {}),
      }
      const f = engineOf(registry).directory.updateField(id, patch)
      new AuditLog(registry).record(cliActor(), 'field.update', id, patch as Record<string, unknown>)
      io.out(
        `field ${f.id}: ${JSON.stringify({ soil: f.soil, seasonDays: f.seasonDays, thresholds: f.thresholds, valve: f.valve })}`,
      )
    }),
  )
  fields
    .command('list')
    .option('--village <village>')
    .option('--json')
    .action(
      action(getRegistry, io, (registry, o: { village?: string; json?: boolean }) => {
        const list = engineOf(registry).directory.listFields({ village: o.village })
        if (o.json) return io.out(JSON.stringify(list, null, 2))
        const rows = list.map((f) => [
          f.id,
          f.village,
          f.name,
          f.crop,
          f.plantedAtMs ? new Date(f.plantedAtMs).toISOString().slice(0, 10) : (f.stage ?? ''),
          String(f.areaHa),
          f.devices.join(','),
          f.valve?.device ?? '',
        ])
        for (const line of table(
          ['ID', 'VILLAGE', 'NAME', 'CROP', 'PLANTED/STAGE', 'HA', 'DEVICES', 'VALVE'],
          rows,
        ))
          io.out(line)
        io.out(`${list.length} field(s)`)
      }),
    )

  const farmers = new Command('farmers').description('farmers who get SMS alerts, and their subscriptions')
  farmers
    .command('add <id>')
    .requiredOption('--name <name>')
    .requiredOption('--phone <number>', 'E.164 (+62…) or 08…')
    .option('--village <village>')
    .addOption(new Option('--language <lang>').choices(LANGUAGES).default('id'))
    .option('--quiet <HH:MM-HH:MM>', 'quiet hours, local time (default from config)')
    .action(
      action(getRegistry, io, (registry, id: string, o: Record<string, string | undefined>) => {
        const [quietStart, quietEnd] = o.quiet ? o.quiet.split('-') : []
        const f = engineOf(registry).directory.addFarmer({
          id,
          name: o.name!,
          phone: o.phone!,
          ...(o.village ? { village: o.village } : {}),
          language: o.language as 'id',
          ...(quietStart ? { quietStart } : {}),
          ...(quietEnd ? { quietEnd } : {}),
        })
        new AuditLog(registry).record(cliActor(), 'farmer.add', f.id, { village: f.village })
        io.out(`added farmer ${f.id} (${f.phone}, ${f.language}, quiet ${f.quietStart}-${f.quietEnd})`)
      }),
    )
  farmers
    .command('list')
    .option('--json')
    .action(
      action(getRegistry, io, (registry, o: { json?: boolean }) => {
        const d = engineOf(registry).directory
        const list = d.listFarmers().map((f) => ({ ...f, fields: d.subscriptionsOf(f.id) }))
        if (o.json) return io.out(JSON.stringify(list, null, 2))
        const rows = list.map((f) => [
          f.id,
          f.name,
          f.phone,
          f.language,
          `${f.quietStart}-${f.quietEnd}`,
          f.stopped ? 'STOP' : '',
          f.fields.join(','),
        ])
        for (const line of table(['ID', 'NAME', 'PHONE', 'LANG', 'QUIET', 'STOPPED', 'FIELDS'], rows))
          io.out(line)
      }),
    )
  farmers
    .command('subscribe <farmer> <fields...>')
    .description('subscribe a farmer to fields (clears a STOP)')
    .action(
      action(getRegistry, io, (registry, farmer: string, list: string[]) => {
        const d = engineOf(registry).directory
        for (const f of list) d.subscribe(farmer, f)
        d.setStopped(farmer, false)
        new AuditLog(registry).record(cliActor(), 'farmer.subscribe', farmer, { fields: list })
        io.out(`${farmer} subscribed to ${d.subscriptionsOf(farmer).join(', ')}`)
      }),
    )

  const officers = new Command('officers').description('village officers (escalations, equipment alerts)')
  officers
    .command('add <id>')
    .requiredOption('--name <name>')
    .requiredOption('--phone <number>')
    .requiredOption('--village <village>')
    .addOption(new Option('--language <lang>').choices(LANGUAGES).default('id'))
    .action(
      action(getRegistry, io, (registry, id: string, o: Record<string, string>) => {
        const x = engineOf(registry).directory.addOfficer({
          id,
          name: o.name!,
          phone: o.phone!,
          village: o.village!,
          language: o.language as 'id',
        })
        new AuditLog(registry).record(cliActor(), 'officer.add', x.id, { village: x.village })
        io.out(`officer ${x.id} (${x.phone}) for village ${x.village}`)
      }),
    )
  officers.command('list').action(
    action(getRegistry, io, (registry) => {
      const rows = engineOf(registry)
        .directory.listOfficers()
        .map((o) => [o.id, o.name, o.phone, o.village])
      for (const line of table(['ID', 'NAME', 'PHONE', 'VILLAGE'], rows)) io.out(line)
    }),
  )

  const alerts = new Command('alerts').description('alerts: list, acknowledge, silence')
  alerts
    .command('list')
    .addOption(new Option('--state <state>').choices(ALERT_STATES))
    .option('--village <village>')
    .option('--field <field>')
    .option('--json')
    .action(
      action(
        getRegistry,
        io,
        (registry, o: { state?: 'firing'; village?: string; field?: string; json?: boolean }) => {
          const list = engineOf(registry).listAlerts(o)
          if (o.json) return io.out(JSON.stringify(list, null, 2))
          const rows = list.map((a) => [
            String(a.id),
            a.state,
            a.severity,
            a.rule,
            a.field ?? a.device ?? a.village,
            a.value === undefined ? '' : String(Math.round(a.value * 10) / 10),
            new Date(a.firedAtMs ?? a.startedAtMs).toISOString(),
            a.ackedBy ?? '',
          ])
          for (const line of table(
            ['ID', 'STATE', 'SEVERITY', 'RULE', 'SUBJECT', 'VALUE', 'SINCE', 'ACKED BY'],
            rows,
          ))
            io.out(line)
          io.out(`${list.length} alert(s)`)
        },
      ),
    )
  alerts
    .command('ack <id>')
    .description('acknowledge: no more reminders or escalation; it still resolves by itself')
    .option('--by <name>', 'who acknowledges', 'cli')
    .action(
      action(getRegistry, io, (registry, id: string, o: { by: string }) => {
        const engine = engineOf(registry)
        if (!engine.getAlert(Number(id)))
          throw new KampungError('unknown_alert', `no alert ${id}`, { retryable: false })
        const a = engine.ack(Number(id), `cli:${o.by}`)!
        new AuditLog(registry).record(cliActor(), 'alert.ack', String(a.id), { rule: a.rule, by: o.by })
        io.out(`alert ${a.id} (${a.rule}, ${a.state}) acknowledged by ${a.ackedBy}`)
      }),
    )
  alerts
    .command('silence')
    .description('hold notifications for matching alerts until a time (maintenance)')
    .requiredOption('--until <time>', 'ISO 8601 or a duration from now (6h, 2d)', when('--until'))
    .requiredOption('--comment <text>')
    .option('--rule <rule>')
    .option('--village <village>')
    .option('--field <field>')
    .option('--device <device>')
    .option('--by <name>', 'who', 'cli')
    .action(
      action(getRegistry, io, (registry, o: Record<string, string | number | undefined>) => {
        const matchers = Object.fromEntries(
          (['rule', 'village', 'field', 'device'] as const)
            .filter((k) => o[k] !== undefined)
            .map((k) => [k, o[k]]),
        )
        if (Object.keys(matchers).length === 0)
          throw new KampungError(
            'invalid_silence',
            'give at least one of --rule, --village, --field, --device',
            {
              retryable: false,
            },
          )
        const s = engineOf(registry).addSilence({
          matchers,
          startsAtMs: Date.now(),
          endsAtMs: o.until as number,
          createdBy: `cli:${o.by}`,
          comment: String(o.comment),
        })
        new AuditLog(registry).record(cliActor(), 'silence.add', String(s.id), {
          matchers,
          endsAt: s.endsAtMs,
          comment: s.comment,
          by: o.by,
        })
        io.out(`silence ${s.id} until ${new Date(s.endsAtMs).toISOString()}: ${JSON.stringify(s.matchers)}`)
      }),
    )
  return [fields, farmers, officers, alerts]
}
