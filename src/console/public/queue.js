import { api, el, fmtTime, message, startPage, stateBadge } from './app.js'

// Trees waiting for an officer: eligible (released by hand when the policy does not auto-verify)
// and at risk (data stopped, drought, stalled growth). The other tabs show every state.
const NEEDS_DECISION = ['eligible', 'at_risk']
const TABS = [
  ['needs decision', NEEDS_DECISION],
  ['failed', ['failed']],
  ['growing', ['growing']],
  ['dormant', ['dormant']], // leafless season or wet spell: not a failure
  ['awaiting data', ['awaiting_data']],
  ['verified', ['verified']],
  ['all', null],
]

await startPage('queue')
const content = document.getElementById('content')
const { ok, data, status } = await api('/api/v1/trees')
if (!ok) {
  message(data.message ?? `could not load trees (${status})`, 'error')
  content.replaceChildren()
} else {
  const trees = data.trees
  const tabs = el('div', { class: 'tabs', role: 'group', 'aria-label': 'filter by state' })
  const body = el('div', { id: 'queue' })
  const show = (label, states) => {
    for (const b of tabs.children) b.setAttribute('aria-pressed', String(b.textContent.startsWith(label)))
    const list = states ? trees.filter((t) => states.includes(t.state)) : trees
    if (list.length === 0) return body.replaceChildren(el('p', { class: 'muted' }, 'No trees here.'))
    body.replaceChildren(
      el(
        'div',
        { class: 'table-wrap' },
        el(
          'table',
          {},
          el(
            'thead',
            {},
            el(
              'tr',
              {},
              el('th', {}, 'Tree'),
              el('th', {}, 'State'),
              el('th', {}, 'Village'),
              el('th', { class: 'wide-only' }, 'Species'),
              el('th', { class: 'wide-only' }, 'Planted'),
            ),
          ),
          el(
            'tbody',
            {},
            list.map((t) =>
              el(
                'tr',
                { 'data-tree': t.id },
                el('td', {}, el('a', { href: `/console/tree?id=${encodeURIComponent(t.id)}` }, t.id)),
                el('td', {}, stateBadge(t.state)),
                el('td', {}, t.village),
                el('td', { class: 'wide-only' }, t.species),
                el('td', { class: 'wide-only' }, fmtTime(t.plantedAtMs)),
              ),
            ),
          ),
        ),
      ),
    )
  }
  for (const [label, states] of TABS) {
    const n = states ? trees.filter((t) => states.includes(t.state)).length : trees.length
    tabs.append(el('button', { type: 'button', onclick: () => show(label, states) }, `${label} (${n})`))
  }
  content.replaceChildren(tabs, body)
  show(...TABS[0])
}
