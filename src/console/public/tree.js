import uPlot from '/console/vendor/uplot/uPlot.esm.js'
import { api, el, fmtTime, message, startPage, stateBadge } from './app.js'

const DAY_MS = 86_400_000
/** The diameter chart shows at most this much recent history (one readings request). */
const CHART_SPAN_MS = 90 * DAY_MS

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

function chart(title, series, data) {
  const box = el('div', { class: 'chart' })
  const width = () => Math.max(280, box.clientWidth || content.clientWidth - 40)
  const make = () =>
    new uPlot(
      { title, width: width(), height: 240, series: [{}, ...series], axes: [{}, { size: 60 }] },
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
  if (!ok || data.readings.length === 0) return el('p', { class: 'muted' }, 'No stem diameter readings yet.')
  const xs = data.readings.map((r) => r.timeMs / 1000)
  const ys = data.readings.map((r) => r.value / 1000)
  return chart('Stem diameter (mm)', [{ label: 'diameter mm', stroke: '#2e7d32' }], [xs, ys])
}

function growthChart(evidence) {
  const days = evidence.dendro?.history ?? []
  if (days.length === 0) return el('p', { class: 'muted' }, 'No complete days processed yet.')
  return chart(
    'Daily growth GRO and tree water deficit TWD (µm)',
    [
      { label: 'GRO µm', stroke: '#2e7d32' },
      { label: 'TWD µm', stroke: '#b3261e' },
    ],
    [days.map((d) => d.dayStartMs / 1000), days.map((d) => d.groUm), days.map((d) => d.twdUm)],
  )
}

function decideForm(evidence) {
  const reason = el('textarea', {
    id: 'reason',
    name: 'reason',
    placeholder: 'Reason (site visit, data checked…)',
    required: true,
  })
  const decide = async (decision) => {
    const text = reason.value.trim()
    if (text.length < 3) return message('Write a reason (at least 3 characters) first.', 'error')
    const { ok, data, status } = await api(`/api/v1/trees/${encodeURIComponent(id)}/decisions`, {
      method: 'POST',
      body: { decision, reason: text },
    })
    if (!ok) return message(data.message ?? `decision refused (${status})`, 'error')
    await render()
    message(`Decision recorded: ${decision} — tree is now ${data.state}.`)
  }
  return el(
    'div',
    { class: 'card', id: 'decide' },
    el('h2', {}, 'Decision'),
    el('label', {}, 'Reason', reason),
    el(
      'div',
      { class: 'buttons' },
      el(
        'button',
        { type: 'button', class: 'primary', id: 'verify', onclick: () => decide('verify') },
        'Verify',
      ),
      el(
        'button',
        { type: 'button', class: 'danger', id: 'reject', onclick: () => decide('reject') },
        'Reject',
      ),
      el(
        'button',
        { type: 'button', class: 'plain', id: 'reopen', onclick: () => decide('reopen') },
        'Reopen',
      ),
    ),
    el('p', { class: 'muted' }, `Current state: ${evidence.state}. Verify issues the signed certificate.`),
  )
}

async function render() {
  const { ok, data, status } = await api(`/api/v1/trees/${encodeURIComponent(id)}`)
  if (!ok) {
    message(data.message ?? `could not load tree (${status})`, 'error')
    return content.replaceChildren()
  }
  const e = data
  const t = e.tree
  document.getElementById('title').replaceChildren(`Tree ${t.id} `, stateBadge(e.state))
  charts.length = 0
  const g = e.growth
  content.replaceChildren(
    el(
      'div',
      { class: 'card', id: 'assessment' },
      facts([
        ['State', el('span', { id: 'state' }, e.state)],
        ['Assessment', e.assessment?.reason],
        ['Progress', e.assessment ? `${e.assessment.progressPct.toFixed(0)} %` : undefined],
        [
          'Projected',
          e.assessment?.projectedEligibleMs ? fmtTime(e.assessment.projectedEligibleMs) : undefined,
        ],
        ['Species', t.species],
        ['Village / device', `${t.village} / ${t.device}`],
        ['Planted', fmtTime(t.plantedAtMs)],
        ['Initial diameter', `${t.initialDiameterMm} mm`],
        ['Growth (GRO)', g ? `${(g.groUm / 1000).toFixed(2)} mm over ${g.daysObserved} days` : undefined],
        [
          'Growth rate',
          g
            ? `${g.growthUmPerDay7d.toFixed(1)} µm/day (7 d), ${g.growthUmPerDay30d.toFixed(1)} µm/day (30 d)`
            : undefined,
        ],
        ['Daily amplitude', g ? `${g.dailyAmplitudeUm.toFixed(0)} µm` : undefined],
        ['Alive', g ? String(g.alive) : undefined],
      ]),
      g?.flags.length
        ? el(
            'ul',
            { class: 'flags' },
            g.flags.map((f) => el('li', {}, `${f.severity}: ${f.message}`)),
          )
        : '',
    ),
    el('div', { class: 'card' }, el('h2', {}, 'Evidence'), await diameterChart(t), growthChart(e)),
    decideForm(e),
    el(
      'div',
      { class: 'card' },
      el('h2', {}, 'Applications'),
      e.applications.length
        ? el(
            'ul',
            {},
            e.applications.map((a) => el('li', {}, `${a.id} (${a.certificateType}): ${a.status}`)),
          )
        : el('p', { class: 'muted' }, 'None.'),
      el('h2', {}, 'Certificates'),
      e.certificates.length
        ? el(
            'ul',
            {},
            e.certificates.map((c) => el('li', {}, el('a', { href: `/verify/${encodeURIComponent(c)}` }, c))),
          )
        : el('p', { class: 'muted' }, 'None yet.'),
    ),
    el(
      'div',
      { class: 'card' },
      el('h2', {}, 'Decisions'),
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
              el('th', {}, 'When'),
              el('th', {}, 'Change'),
              el('th', {}, 'By'),
              el('th', {}, 'Reason'),
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
                  el('td', {}, `${d.fromState ?? '—'} → ${d.toState}`),
                  el('td', {}, d.by),
                  el('td', {}, d.reason),
                ),
              ),
          ),
        ),
      ),
    ),
  )
}

await render()
