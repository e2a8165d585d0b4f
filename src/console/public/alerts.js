import { api, el, fmtTime, message, startPage } from './app.js'
import { refusal, t, value } from './i18n.js'

// The alerts API's states; an acknowledgement is shown on the alert (it stays firing until resolved).
const STATES = ['firing', 'pending', 'resolved']
await startPage('alerts')
const content = document.getElementById('content')
const tabs = el('div', { class: 'tabs', role: 'group', 'aria-label': t('alerts.stateGroup') })
const body = el('div', { id: 'alerts' })
let current = 'firing'
// from the map: one field's alerts
const field = new URLSearchParams(location.search).get('field') ?? ''

async function ack(alert) {
  const { ok, data, status } = await api(`/api/v1/alerts/${encodeURIComponent(alert.id)}/ack`, {
    method: 'POST',
    body: {},
  })
  if (!ok) return message(refusal(data, status, 'alerts.ackRefused'), 'error')
  message(t('alerts.acked', { id: alert.id, rule: alert.rule, subject: alert.subject }))
  await show(current)
}

async function show(state) {
  current = state
  for (const b of tabs.children) b.setAttribute('aria-pressed', String(b.dataset.state === state))
  const q = new URLSearchParams({ state, ...(field ? { field } : {}) })
  const { ok, data, status } = await api(`/api/v1/alerts?${q}`)
  if (status === 404) {
    tabs.remove()
    return body.replaceChildren(el('p', { class: 'msg error', id: 'unavailable' }, t('alerts.unavailable')))
  }
  if (!ok)
    return body.replaceChildren(el('p', { class: 'msg error' }, refusal(data, status, 'alerts.loadFailed')))
  const alerts = Array.isArray(data) ? data : (data.alerts ?? [])
  if (alerts.length === 0)
    return body.replaceChildren(
      el('p', { class: 'muted' }, t('alerts.empty', { state: t(`alerts.state.${state}`) })),
    )
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
            ['severity', 'village', 'subject', 'alert', 'since', 'message', 'acked'].map((h, i) =>
              el('th', { class: i === 3 || i === 4 ? 'wide-only' : '' }, t(`alerts.col.${h}`)),
            ),
          ),
        ),
        el(
          'tbody',
          {},
          alerts.map((a) =>
            el(
              'tr',
              { 'data-alert': a.id },
              el('td', {}, el('span', { class: `badge sev-${a.severity}` }, t(`severity.${a.severity}`))),
              el('td', {}, a.village),
              el('td', {}, [a.subject, a.field].filter(Boolean).join(' / ')),
              el(
                'td',
                { class: 'wide-only' },
                `${a.rule}${a.value !== undefined ? ` (${value(a.value)})` : ''}`,
              ),
              el('td', { class: 'wide-only' }, fmtTime(a.startsAt ?? a.firedAtMs ?? a.startedAtMs)),
              el('td', {}, a.message ?? ''),
              el(
                'td',
                { class: 'ack' },
                a.ackedAtMs || a.state === 'acknowledged'
                  ? t('alerts.ackedBy', { by: a.ackedBy ?? '?', time: fmtTime(a.ackedAtMs) })
                  : state === 'firing' || state === 'pending'
                    ? el('button', { type: 'button', class: 'plain', onclick: () => ack(a) }, t('alerts.ack'))
                    : '',
              ),
            ),
          ),
        ),
      ),
    ),
  )
}

for (const s of STATES)
  tabs.append(
    el('button', { type: 'button', 'data-state': s, onclick: () => show(s) }, t(`alerts.state.${s}`)),
  )
content.replaceChildren(field ? el('p', { id: 'field' }, t('alerts.ofField', { field })) : '', tabs, body)
await show('firing')
