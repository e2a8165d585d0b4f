import { api, el, message, startPage, stateBadge, stateName } from './app.js'
import { date, refusal, speciesName, t } from './i18n.js'

// Trees waiting for an officer: eligible (released by hand when the policy does not auto-verify)
// and at risk (data stopped, drought, stalled growth). The other tabs show every state.
const NEEDS_DECISION = ['eligible', 'at_risk']
const TABS = [
  ['needs', NEEDS_DECISION],
  ['failed', ['failed']],
  ['growing', ['growing']],
  ['dormant', ['dormant']], // leafless season or wet spell: not a failure
  ['awaiting_data', ['awaiting_data']],
  ['verified', ['verified']],
  ['all', null],
]
/** A tab's label: a state's name, or one of the two groups. */
const tabLabel = (id) => (id === 'needs' || id === 'all' ? t(`queue.tab.${id}`) : stateName(id))

await startPage('queue')
const content = document.getElementById('content')
const { ok, data, status } = await api('/api/v1/trees')
if (!ok) {
  message(refusal(data, status, 'queue.loadFailed'), 'error')
  content.replaceChildren()
} else {
  const trees = data.trees
  const tabs = el('div', { class: 'tabs', role: 'group', 'aria-label': t('queue.filter') })
  const body = el('div', { id: 'queue' })
  const show = (tab, states) => {
    for (const b of tabs.children) b.setAttribute('aria-pressed', String(b.dataset.tab === tab))
    const list = states ? trees.filter((tree) => states.includes(tree.state)) : trees
    if (list.length === 0) return body.replaceChildren(el('p', { class: 'muted' }, t('queue.empty')))
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
              el('th', {}, t('col.tree')),
              el('th', {}, t('col.state')),
              el('th', {}, t('col.village')),
              el('th', { class: 'wide-only' }, t('col.species')),
              el('th', { class: 'wide-only' }, t('col.planted')),
            ),
          ),
          el(
            'tbody',
            {},
            list.map((tree) =>
              el(
                'tr',
                { 'data-tree': tree.id },
                el('td', {}, el('a', { href: `/console/tree?id=${encodeURIComponent(tree.id)}` }, tree.id)),
                el('td', {}, stateBadge(tree.state)),
                el('td', {}, tree.village),
                el('td', { class: 'wide-only' }, speciesName(tree.species)),
                el('td', { class: 'wide-only' }, date(tree.plantedAtMs)),
              ),
            ),
          ),
        ),
      ),
    )
  }
  for (const [tab, states] of TABS) {
    const n = states ? trees.filter((tree) => states.includes(tree.state)).length : trees.length
    tabs.append(
      el(
        'button',
        { type: 'button', 'data-tab': tab, onclick: () => show(tab, states) },
        `${tabLabel(tab)} (${n})`,
      ),
    )
  }
  content.replaceChildren(tabs, body)
  show(...TABS[0])
}
