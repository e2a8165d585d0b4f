import uPlot from '/console/vendor/uplot/uPlot.esm.js'
import { api, el, fmtTime, message, startPage, stateBadge, stateName } from './app.js'
import { currentLanguage, date, num, refusal, serverText, shortDay, speciesName, t } from './i18n.js'

const DAY_MS = 86_400_000
/** The diameter chart shows at most this much recent history (one readings request). */
const CHART_SPAN_MS = 90 * DAY_MS
/** An override's reason is printed on the public certificate (src/oksigen/verifier.ts, MIN_OVERRIDE_REASON_LENGTH). */
const MIN_OVERRIDE_REASON = 20

await startPage('queue')
const id = new URLSearchParams(location.search).get('id') ?? ''
const content = document.getElementById('content')
const charts = []

function facts(pairs) {
  return el(
    'dl',
    { class: 'facts' },
    pairs
      .filter(([, v]) => v !== undefined && v !== null && v !== '')
      .flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]),
  )
}

/** Axis ticks and legend values in the page's language: days as "3 Des", numbers with its decimal mark. */
const axisNumber = (splits) => {
  const step = splits.length > 1 ? Math.abs(splits[1] - splits[0]) : 1
  const decimals = step >= 1 || step === 0 ? 0 : Math.min(3, Math.ceil(-Math.log10(step)))
  return splits.map((v) => (v === null ? '' : num(v, decimals)))
}

function chart(title, series, data) {
  const box = el('div', { class: 'chart' })
  const width = () => Math.max(280, box.clientWidth || content.clientWidth - 40)
  const make = () =>
    new uPlot(
      {
        title,
        width: width(),
        height: 240,
        series: [
          { label: t('chart.time'), value: (_u, s) => (s === null ? '—' : fmtTime(s * 1000)) },
          ...series.map((x) => ({ ...x, value: (_u, v) => (v === null ? '—' : num(v, 3)) })),
        ],
        axes: [
          { values: (_u, splits) => splits.map((s) => shortDay(s * 1000)) },
          { size: 60, values: (_u, splits) => axisNumber(splits) },
        ],
      },
      data,
      box,
    )
  requestAnimationFrame(() => charts.push({ plot: make(), box, width }))
  return box
}

window.addEventListener('resize', () => {
  for (const c of charts) c.plot.setSize({ width: c.width(), height: 240 })
})

async function diameterChart(tree) {
  const from = Math.max(tree.plantedAtMs, Date.now() - CHART_SPAN_MS)
  const q = new URLSearchParams({
    quantity: 'stem_diameter',
    village: tree.village,
    device: tree.device,
    from: String(from),
    limit: '10000',
  })
  const { ok, data } = await api(`/api/v1/readings?${q}`)
  if (!ok || data.readings.length === 0) return el('p', { class: 'muted' }, t('tree.noReadings'))
  const xs = data.readings.map((r) => r.timeMs / 1000)
  const ys = data.readings.map((r) => r.value / 1000)
  return chart(t('chart.diameter'), [{ label: t('chart.diameterSeries'), stroke: '#2e7d32' }], [xs, ys])
}

function growthChart(evidence) {
  const days = evidence.dendro?.history ?? []
  if (days.length === 0) return el('p', { class: 'muted' }, t('tree.noDays'))
  return chart(
    t('chart.growth'),
    [
      { label: t('chart.gro'), stroke: '#2e7d32' },
      { label: t('chart.twd'), stroke: '#b3261e' },
    ],
    [days.map((d) => d.dayStartMs / 1000), days.map((d) => d.groUm), days.map((d) => d.twdUm)],
  )
}

function decideForm(evidence) {
  const reason = el('textarea', {
    id: 'reason',
    name: 'reason',
    placeholder: t('decide.placeholder'),
    required: true,
  })
  const override = el('input', { type: 'checkbox', id: 'override', name: 'override' })
  const decide = async (decision) => {
    const text = reason.value.trim()
    if (text.length < 3) return message(t('decide.needReason'), 'error')
    const overriding = decision === 'verify' && override.checked
    if (overriding && text.length < MIN_OVERRIDE_REASON)
      return message(t('decide.needOverrideReason', { min: MIN_OVERRIDE_REASON }), 'error')
    const { ok, data, status } = await api(`/api/v1/trees/${encodeURIComponent(id)}/decisions`, {
      method: 'POST',
      body: { decision, reason: text, ...(overriding ? { override: true } : {}) },
    })
    if (!ok) return message(refusal(data, status, 'decide.refused', { min: MIN_OVERRIDE_REASON }), 'error')
    await render()
    message(t('decide.recorded', { decision: t(`decision.${decision}`), state: stateName(data.state) }))
  }
  return el(
    'div',
    { class: 'card', id: 'decide' },
    el('h2', {}, t('decide.heading')),
    el('label', {}, t('decide.reason'), reason),
    el('label', { class: 'check' }, override, ' ', t('decide.override', { min: MIN_OVERRIDE_REASON })),
    el(
      'div',
      { class: 'buttons' },
      el(
        'button',
        { type: 'button', class: 'primary', id: 'verify', onclick: () => decide('verify') },
        t('decide.verify'),
      ),
      el(
        'button',
        { type: 'button', class: 'danger', id: 'reject', onclick: () => decide('reject') },
        t('decide.reject'),
      ),
      el(
        'button',
        { type: 'button', class: 'plain', id: 'reopen', onclick: () => decide('reopen') },
        t('decide.reopen'),
      ),
    ),
    el('p', { class: 'muted' }, t('decide.current', { state: stateName(evidence.state) })),
  )
}

/** A flag of the verifier in the page's language (its English message as the tooltip). */
const flagText = (f) => serverText(`flag.${f.kind}`, f.evidence, f.message)

/** Why the tree is in its state, in the page's language. */
function reasonText(a, flags) {
  if (a.reasonCode === 'failure_flags' && currentLanguage() !== 'en') {
    const failing = (flags ?? []).filter((f) => f.severity === 'failure' && f.kind !== 'data_stopped')
    if (failing.length) return t('reason.failure_flags', { flags: failing.map(flagText).join('; ') })
  }
  return serverText(`reason.${a.reasonCode}`, a.reasonVars, a.reason)
}

/** Marked as English where the verifier's words are shown as they are. */
const spoken = (text, english) =>
  el(
    'span',
    { lang: text === english && currentLanguage() !== 'en' ? 'en' : undefined, title: english },
    text,
  )

/** An officer's reason as written; the verifier's own (by `auto`) in the page's language. */
function decisionReason(d) {
  if (d.by !== 'auto' || !d.data?.reasonCode) return d.reason
  const text = reasonText(d.data, [])
  if (text === d.data.reason) return spoken(d.reason, d.reason)
  return spoken(d.reason.startsWith('automatic: ') ? `${t('decide.automatic')}: ${text}` : text, d.reason)
}

const alive = (v) => t(`tree.alive.${v === true ? 'true' : v === false ? 'false' : 'unknown'}`)

async function render() {
  const { ok, data, status } = await api(`/api/v1/trees/${encodeURIComponent(id)}`)
  if (!ok) {
    message(refusal(data, status, 'tree.loadFailed'), 'error')
    return content.replaceChildren()
  }
  const e = data
  const tree = e.tree
  document
    .getElementById('title')
    .replaceChildren(`${t('tree.heading', { id: tree.id })} `, stateBadge(e.state))
  charts.length = 0
  const g = e.growth
  content.replaceChildren(
    el(
      'div',
      { class: 'card', id: 'assessment' },
      facts([
        [t('tree.state'), el('span', { id: 'state', 'data-state': e.state }, stateName(e.state))],
        // the assessment's reason is the verifier's own text (English)
        [
          t('tree.assessment'),
          e.assessment ? spoken(reasonText(e.assessment, g?.flags), e.assessment.reason) : undefined,
        ],
        [t('tree.progress'), e.assessment ? `${num(e.assessment.progressPct, 0)} %` : undefined],
        [
          t('tree.projected'),
          e.assessment?.projectedEligibleMs ? date(e.assessment.projectedEligibleMs) : undefined,
        ],
        [t('tree.species'), speciesName(tree.species)],
        [
          t('tree.villageDevice'),
          [
            `${tree.village} / ${tree.device} · `,
            el(
              'a',
              {
                class: 'export',
                id: 'export-readings',
                download: '',
                href: `/api/v1/export/readings.csv?${new URLSearchParams({ device: tree.device })}`,
              },
              t('export.deviceReadings'),
            ),
          ],
        ],
        [t('tree.planted'), date(tree.plantedAtMs)],
        [t('tree.initialDiameter'), `${num(tree.initialDiameterMm, 1)} mm`],
        [
          t('tree.gro'),
          g ? t('tree.groValue', { mm: num(g.groUm / 1000, 2), days: num(g.daysObserved) }) : undefined,
        ],
        [
          t('tree.rate'),
          g
            ? t('tree.rateValue', { d7: num(g.growthUmPerDay7d, 1), d30: num(g.growthUmPerDay30d, 1) })
            : undefined,
        ],
        [t('tree.amplitude'), g ? `${num(g.dailyAmplitudeUm, 0)} µm` : undefined],
        [t('tree.alive'), g ? alive(g.alive) : undefined],
      ]),
      g?.flags.length
        ? el(
            'ul',
            { class: 'flags' },
            g.flags.map((f) =>
              el('li', {}, `${t(`severity.${f.severity}`)}: `, spoken(flagText(f), f.message)),
            ),
          )
        : '',
    ),
    el('div', { class: 'card' }, el('h2', {}, t('tree.evidence')), await diameterChart(tree), growthChart(e)),
    decideForm(e),
    el(
      'div',
      { class: 'card' },
      el('h2', {}, t('tree.applications')),
      e.applications.length
        ? el(
            'ul',
            {},
            e.applications.map((a) =>
              el('li', {}, `${a.id} (${a.certificateType}): ${t(`application.${a.status}`)}`),
            ),
          )
        : el('p', { class: 'muted' }, t('common.none')),
      el('h2', {}, t('tree.certificates')),
      e.certificates.length
        ? el(
            'ul',
            {},
            e.certificates.map((c) => el('li', {}, el('a', { href: `/verify/${encodeURIComponent(c)}` }, c))),
          )
        : el('p', { class: 'muted' }, t('tree.noCertificates')),
    ),
    el(
      'div',
      { class: 'card' },
      el('h2', {}, t('tree.decisions')),
      el(
        'div',
        { class: 'table-wrap' },
        el(
          'table',
          { id: 'decisions' },
          el(
            'thead',
            {},
            el(
              'tr',
              {},
              el('th', {}, t('col.when')),
              el('th', {}, t('col.change')),
              el('th', {}, t('col.by')),
              el('th', {}, t('col.reason')),
            ),
          ),
          el(
            'tbody',
            {},
            [...e.decisions]
              .reverse()
              .map((d) =>
                el(
                  'tr',
                  {},
                  el('td', {}, fmtTime(d.atMs)),
                  el('td', {}, `${d.fromState ? stateName(d.fromState) : '—'} → ${stateName(d.toState)}`),
                  el('td', {}, d.by),
                  el('td', {}, decisionReason(d)),
                ),
              ),
          ),
        ),
      ),
    ),
  )
}

await render()
