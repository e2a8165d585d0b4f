import { Command } from 'commander'
import { coordinate } from './devices.ts'

/**
 * `kampung trees …`: the officers' Sedekah Oksigen commands, as a client of the HTTP API of a
 * running service (the same API a console uses). Credentials: a `service` account, from
 * --user/--password or KAMPUNG_API_USER/KAMPUNG_API_PASSWORD; `decide` is a person's: a console
 * officer's login (--officer, password from KAMPUNG_OFFICER_PASSWORD or stdin).
 */
export function treesCommand(defaultApiUrl: () => string): Command {
  const cmd = new Command('trees').description(
    'Sedekah Oksigen trees: register, list by state, evidence, decisions',
  )
  cmd
    .option('--api <url>', 'the service API (default: from config)')
    .option('--user <id>', 'officer account (a registered device of kind service); env KAMPUNG_API_USER')
    .option('--password <secret>', 'its secret; env KAMPUNG_API_PASSWORD')

  /** One request to the service; a refusal becomes an error with its status, message and problems. */
  const request = async (
    method: string,
    path: string,
    headers: Record<string, string>,
    body?: unknown,
  ): Promise<{ res: Response; out: unknown }> => {
    const url = `${cmd.opts<{ api?: string }>().api ?? defaultApiUrl()}${path}`
    let res: Response
    try {
      res = await fetch(url, {
        method,
        headers: { 'content-type': 'application/json', ...headers },
        body: body === undefined ? undefined : JSON.stringify(body),
      })
    } catch (err) {
      throw new Error(
        `cannot reach the service at ${url}: ${(err as Error).message} (is \`kampung up\` running?)`,
      )
    }
    const out = (await res.json().catch(() => ({}))) as { message?: string; problems?: string[] }
    if (!res.ok)
      throw new Error(
        [`${res.status}: ${out.message ?? res.statusText}`, ...(out.problems ?? [])].join('\n  '),
      )
    return { res, out }
  }

  const call = async (method: string, path: string, body?: unknown): Promise<unknown> => {
    const o = cmd.opts<{ user?: string; password?: string }>()
    const user = o.user ?? process.env.KAMPUNG_API_USER
    const password = o.password ?? process.env.KAMPUNG_API_PASSWORD
    if (!user || !password)
      throw new Error(
        'officer credentials needed: --user/--password or KAMPUNG_API_USER/KAMPUNG_API_PASSWORD',
      )
    const basic = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`
    return (await request(method, path, { authorization: basic }, body)).out
  }

  cmd
    .command('list')
    .description('list trees with their verification state, species, village and dendrometer')
    .option(
      '--state <state>',
      'only this state: awaiting_data | growing | eligible | verified | dormant | at_risk | failed',
    )
    .option('--village <id>', 'only this village')
    .option('--json', 'print JSON')
    .action(async (o) => {
      const q = new URLSearchParams(
        Object.entries({ state: o.state, village: o.village }).filter(([, v]) => v) as string[][],
      )
      const { trees } = (await call('GET', `/api/v1/trees?${q}`)) as { trees: Array<Record<string, unknown>> }
      if (o.json) return console.log(JSON.stringify(trees, null, 2))
      if (trees.length === 0) return console.log('no trees')
      for (const t of trees) console.log(`${t.id}  ${t.state}  ${t.species}  ${t.village}/${t.device}`)
    })

  cmd
    .command('show <id>')
    .description("one tree's state, evidence and decisions")
    .action(async (id: string) => {
      const e = (await call('GET', `/api/v1/trees/${encodeURIComponent(id)}`)) as {
        tree: Record<string, unknown>
        state: string
        assessment?: { reason: string; progressPct: number; projectedEligibleMs?: number }
        growth?: Record<string, unknown>
        decisions: Array<{ atMs: number; toState: string; by: string; reason: string }>
        certificates: string[]
        applications: Array<{ id: string; certificateType: string; status: string }>
        estimate?: {
          method: string
          note?: string
          dbhCm?: number
          heightM?: number
          heightSource?: string
          biomass?: { o2Kg: number | null }
        }
      }
      console.log(
        `${e.tree.id}  ${e.tree.species}  planted ${new Date(Number(e.tree.plantedAtMs)).toISOString().slice(0, 10)}  state: ${e.state}`,
      )
      if (e.assessment) {
        const projected = e.assessment.projectedEligibleMs
          ? `, projected eligible ${new Date(e.assessment.projectedEligibleMs).toISOString().slice(0, 10)}`
          : ''
        console.log(`  ${e.assessment.reason} (${e.assessment.progressPct.toFixed(0)} %${projected})`)
      }
      if (e.growth) console.log(`  evidence: ${JSON.stringify(e.growth)}`)
      if (e.estimate)
        console.log(
          e.estimate.method === 'none'
            ? `  estimate: ${e.estimate.note}`
            : `  estimate: DBH ${e.estimate.dbhCm?.toFixed(2)} cm, H ${e.estimate.heightM?.toFixed(1)} m (${e.estimate.heightSource}), O2 ${e.estimate.biomass?.o2Kg === null ? 'none (D < 5 cm)' : `${e.estimate.biomass?.o2Kg?.toFixed(1)} kg`}`,
        )
      for (const d of e.decisions)
        console.log(`  ${new Date(d.atMs).toISOString()}  → ${d.toState}  by ${d.by}: ${d.reason}`)
      for (const a of e.applications) console.log(`  application ${a.id} (${a.certificateType}): ${a.status}`)
      for (const c of e.certificates) console.log(`  certificate ${c}`)
    })

  cmd
    .command('add')
    .description('register a planted tree carrying a dendrometer node')
    .requiredOption('--device <id>', 'the dendrometer node on the tree')
    .requiredOption('--species <id>', 'avocado | durian | soursop | teak | sengon | trembesi')
    .requiredOption('--planted <date>', 'planting date, ISO 8601 (e.g. 2026-11-01T08:00:00+07:00)')
    .requiredOption('--diameter-mm <mm>', 'stem diameter at planting (where the dendrometer sits)', Number)
    .option('--height-m <m>', 'height at planting', Number)
    .option('--mount-height-cm <cm>', 'height of the dendrometer above ground', Number)
    .option('--dbh-cm <cm>', 'diameter at breast height (1.3 m), if the tree is that tall', Number)
    .option('--lat <deg>', 'latitude (WGS 84)', coordinate('--lat', 90))
    .option('--lon <deg>', 'longitude (WGS 84)', coordinate('--lon', 180))
    .action(async (o) => {
      const body = {
        device: o.device,
        species: o.species,
        plantedAt: o.planted,
        initialDiameterMm: o.diameterMm,
        initialHeightM: o.heightM,
        mountHeightCm: o.mountHeightCm,
        dbhCm: o.dbhCm,
        lat: o.lat,
        lon: o.lon,
      }
      const { tree } = (await call('POST', '/api/v1/trees', body)) as { tree: { id: string } }
      console.log(`tree ${tree.id} registered (public id: it names the tree on its certificate)`)
    })

  cmd
    .command('measure <id>')
    .description('record a DBH (at 1.3 m) and/or height measurement; biomass then uses it')
    .option('--dbh-cm <cm>', 'diameter at breast height, cm', Number)
    .option('--height-m <m>', 'tree height, m', Number)
    .option('--at <date>', 'when it was measured, ISO 8601 (default now)')
    .action(async (id: string, o) => {
      const { measurement } = (await call('POST', `/api/v1/trees/${encodeURIComponent(id)}/measurements`, {
        dbhCm: o.dbhCm,
        heightM: o.heightM,
        at: o.at,
      })) as { measurement: { dbhCm?: number; heightM?: number; groUmAt: number } }
      const parts = [
        measurement.dbhCm !== undefined ? `DBH ${measurement.dbhCm} cm` : '',
        measurement.heightM !== undefined ? `height ${measurement.heightM} m` : '',
      ].filter(Boolean)
      console.log(
        `tree ${id}: ${parts.join(', ')} recorded (dendrometer growth so far ${Math.round(measurement.groUmAt)} µm)`,
      )
    })

  cmd
    .command('apply <id>')
    .description('record a certificate application for a tree (the reference is kept only as a pseudonym)')
    .requiredOption('--application <id>')
    .requiredOption('--type <certificateType>')
    .requiredOption('--reference <ref>')
    .option('--phone <e164>', "the planter's phone, for SMS")
    .action(async (id: string, o) => {
      await call('POST', `/api/v1/trees/${encodeURIComponent(id)}/applications`, {
        id: o.application,
        certificateType: o.type,
        reference: o.reference,
        planterPhone: o.phone,
      })
      console.log(`application ${o.application} recorded for tree ${id}`)
    })

  /**
   * A decision is a person's (console officer or admin), never a service account's: log in as
   * `officer` (password from KAMPUNG_OFFICER_PASSWORD or the first line of stdin), send it on
   * that session with its CSRF token, log out.
   */
  const asOfficer = async (officer: string, path: string, body: unknown): Promise<unknown> => {
    let password = process.env.KAMPUNG_OFFICER_PASSWORD
    if (!password) {
      let text = ''
      for await (const chunk of process.stdin) text += chunk
      password = text.split(/\r?\n/)[0] ?? ''
    }
    const login = await request('POST', '/api/v1/session', {}, { user: officer, password })
    const cookie = (login.res.headers.get('set-cookie') ?? '').split(';')[0] ?? ''
    const session = { cookie, 'x-csrf-token': (login.out as { csrfToken: string }).csrfToken }
    try {
      return (await request('POST', path, session, body)).out
    } finally {
      await request('DELETE', '/api/v1/session', session).catch(() => undefined)
    }
  }

  cmd
    .command('decide <id> <decision>')
    .description(
      'verify | reject | reopen, with the reason (kept with your id); as a console officer, not a service account',
    )
    .requiredOption('--reason <text>')
    .requiredOption(
      '--officer <user>',
      'your console account; password from KAMPUNG_OFFICER_PASSWORD or stdin',
    )
    .option(
      '--override',
      "verify without the policy's evidence: the reason (20+ characters) is printed on the public certificate",
    )
    .action(async (id: string, decision: string, o) => {
      const { state } = (await asOfficer(o.officer, `/api/v1/trees/${encodeURIComponent(id)}/decisions`, {
        decision,
        reason: o.reason,
        ...(o.override ? { override: true } : {}),
      })) as {
        state: string
      }
      console.log(`tree ${id}: ${state}`)
    })

  cmd
    .command('reverify <id>')
    .description('re-run the verification of a tree on the data it has')
    .action(async (id: string) => {
      const { state } = (await call('POST', `/api/v1/trees/${encodeURIComponent(id)}/reverify`)) as {
        state: string
      }
      console.log(`tree ${id}: ${state}`)
    })
  return cmd
}
