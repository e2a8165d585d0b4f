import { api, el, fmtTime, message, startPage } from './app.js'
import { refusal, t } from './i18n.js'

const DAY_MS = 86_400_000
const RANGES_DAYS = [1, 7, 30, 365]

const s = await startPage('audit')
const content = document.getElementById('content')
document.getElementById('scope').textContent = t(s.role === 'admin' ? 'audit.scopeAll' : 'audit.scopeOwn')

const range = el(
  'select',
  { id: 'range', 'aria-label': t('audit.range') },
  RANGES_DAYS.map((d) =>
    el(
      'option',
      { value: String(d), selected: d === 7 ? 'selected' : undefined },
      t('audit.lastDays', { n: d }),
    ),
  ),
)
const download = el('a', { id: 'csv' }, t('audit.csv'))
document.getElementById('controls').replaceChildren(el('p', {}, t('audit.range'), ' ', range, ' ', download))

/** Entries of the chosen range, newest first; the CSV link exports the same range. */
async function load() {
  const from = new Date(Date.now() - Number(range.value) * DAY_MS).toISOString()
  download.setAttribute('href', `/api/v1/audit?format=csv&from=${encodeURIComponent(from)}`)
  const { ok, data, status } = await api(`/api/v1/audit?from=${encodeURIComponent(from)}&limit=1000`)
  if (!ok) return message(refusal(data, status, 'audit.loadFailed'), 'error')
  message('')
  if (data.entries.length === 0) return content.replaceChildren(el('p', { class: 'muted' }, t('common.none')))
  content.replaceChildren(
    el(
      'div',
      { class: 'table-wrap' },
      el(
        'table',
        { id: 'entries' },
        el(
          'thead',
          {},
          el(
            'tr',
            {},
            el('th', {}, t('audit.col.time')),
            el('th', {}, t('audit.col.actor')),
            el('th', { class: 'wide-only' }, t('audit.col.address')),
            el('th', {}, t('audit.col.action')),
            el('th', {}, t('audit.col.target')),
            el('th', { class: 'wide-only' }, t('audit.col.detail')),
          ),
        ),
        el(
          'tbody',
          {},
          data.entries.map((e) =>
            el(
              'tr',
              { 'data-entry': String(e.id), 'data-action': e.action },
              el('td', {}, fmtTime(e.atMs)),
              el('td', {}, e.actor),
              el('td', { class: 'wide-only' }, e.address),
              el('td', {}, e.action),
              el('td', {}, e.target),
              // what people typed (a reason, a comment) stays as they wrote it
              el('td', { class: 'wide-only', lang: 'en' }, JSON.stringify(e.detail)),
            ),
          ),
        ),
      ),
    ),
  )
}

range.addEventListener('change', load)
await load()
