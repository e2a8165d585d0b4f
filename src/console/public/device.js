// One device's configuration (issue 17): the desired version against what the node reported as
// applied, whether they agree ("in sync", "waiting since …", "failed"), a form that makes a new
// version (GET/PUT /api/v1/devices/:id/config), and the latest versions with their command's state.
import { api, el, fmtTime, message, startPage } from './app.js'
import { refusal, t, value } from './i18n.js'

/** The settings a node keeps (src/commands/wire.ts NODE_SETTINGS), in the order shown. */
const SETTINGS = [
  { name: 'reportIntervalS', min: 1, max: 86400, step: 1 },
  { name: 'dryThresholdPct', min: 0, max: 100, step: 0.1 },
  { name: 'irrigateS', min: 1, max: 43200, step: 1 },
]

await startPage('device')
const id = new URLSearchParams(location.search).get('id') ?? ''
const content = document.getElementById('content')
document.getElementById('title').textContent = t('config.heading', { id })
document.title = `${t('config.heading', { id })} · ${t('app.brand')}`

const shown = (settings, name) => (settings?.[name] === undefined ? '—' : value(settings[name], 1))

function statusLine(view) {
  const text =
    view.status === 'waiting'
      ? t('config.status.waiting', { time: fmtTime(view.waitingSinceMs) })
      : view.status === 'failed'
        ? t('config.status.failed', { error: view.error ?? '' })
        : t(`config.status.${view.status}`)
  return el(
    'p',
    {},
    el('span', { class: `badge config-${view.status}`, id: 'status', 'data-status': view.status }, text),
  )
}

function comparison(view) {
  const d = view.desired
  const r = view.reported
  const row = (label, desired, reported, key) =>
    el(
      'tr',
      { 'data-row': key },
      el('th', {}, label),
      el('td', { class: 'desired' }, desired),
      el('td', { class: 'reported' }, reported),
    )
  return el(
    'div',
    { class: 'table-wrap' },
    el(
      'table',
      { id: 'comparison' },
      el(
        'thead',
        {},
        el('tr', {}, el('th', {}, ''), el('th', {}, t('config.desired')), el('th', {}, t('config.reported'))),
      ),
      el(
        'tbody',
        {},
        row(t('config.version'), d ? String(d.version) : '—', r ? String(r.version) : '—', 'version'),
        SETTINGS.map((s) =>
          row(
            t(`config.setting.${s.name}`),
            // a report interval left out of the desired configuration is the node's own default
            d && d.settings[s.name] === undefined && s.name === 'reportIntervalS'
              ? t('config.nodeDefault')
              : shown(d?.settings, s.name),
            shown(r?.settings, s.name),
            s.name,
          ),
        ),
        row(
          t('config.when'),
          d ? t('config.setBy', { time: fmtTime(d.createdAtMs), user: d.createdBy ?? '?' }) : '—',
          r ? fmtTime(r.reportedAtMs) : t('config.nothingReported'),
          'when',
        ),
      ),
    ),
  )
}

function form(view) {
  const inputs = SETTINGS.map((s) =>
    el('input', {
      type: 'number',
      name: s.name,
      id: `set-${s.name}`,
      min: s.min,
      max: s.max,
      step: s.step,
      value: view.desired?.settings[s.name] ?? '',
    }),
  )
  const f = el(
    'form',
    { class: 'row card', id: 'config-form' },
    SETTINGS.map((s, i) => el('label', {}, t(`config.setting.${s.name}`), inputs[i])),
    el('button', { type: 'submit', class: 'primary' }, t('config.save')),
  )
  f.addEventListener('submit', async (event) => {
    event.preventDefault()
    const body = {}
    for (const input of inputs) if (input.value.trim() !== '') body[input.name] = Number(input.value)
    const { ok, data, status } = await api(`/api/v1/devices/${encodeURIComponent(id)}/config`, {
      method: 'PUT',
      body,
    })
    if (!ok) return message(refusal(data, status, 'config.refused'), 'error')
    message(
      status === 201
        ? t('config.saved', { version: data.desired.version })
        : t('config.unchanged', { version: data.desired.version }),
    )
    draw(data)
  })
  return f
}

function history(view) {
  if (view.history.length === 0) return el('p', { class: 'muted' }, t('common.none'))
  return el(
    'div',
    { class: 'table-wrap' },
    el(
      'table',
      { id: 'history' },
      el(
        'thead',
        {},
        el(
          'tr',
          {},
          el('th', {}, t('config.version')),
          el('th', {}, t('config.settings')),
          el('th', {}, t('config.col.by')),
          el('th', {}, t('config.col.state')),
        ),
      ),
      el(
        'tbody',
        {},
        view.history.map((h) =>
          el(
            'tr',
            { 'data-version': String(h.version), 'data-state': h.state ?? '' },
            el('td', {}, String(h.version)),
            el(
              'td',
              {},
              SETTINGS.filter((s) => h.settings[s.name] !== undefined)
                .map((s) => `${t(`config.setting.${s.name}`)}: ${value(h.settings[s.name], 1)}`)
                .join('; ') || t('config.defaults'),
            ),
            el('td', {}, `${h.createdBy ?? '?'}, ${fmtTime(h.createdAtMs)}`),
            // a node's reason stays in its own words
            el(
              'td',
              {},
              h.state ? t(`command.state.${h.state}`) : '',
              h.error ? el('span', { lang: 'en' }, ` (${h.error})`) : '',
            ),
          ),
        ),
      ),
    ),
  )
}

function draw(view) {
  content.replaceChildren(
    statusLine(view),
    comparison(view),
    el('h2', {}, t('config.change')),
    el('p', { class: 'muted' }, t('config.changeHelp')),
    form(view),
    el('h2', {}, t('config.history')),
    history(view),
  )
}

const { ok, data, status } = await api(`/api/v1/devices/${encodeURIComponent(id)}/config`)
if (!ok) {
  message(refusal(data, status, 'config.loadFailed'), 'error')
  content.replaceChildren()
} else draw(data)
