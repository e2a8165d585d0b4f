import { api, el, fmtTime, message, startPage } from './app.js'

// The alerts API's states; an acknowledgement is shown on the alert (it stays firing until resolved).
const STATES = ['firing', 'pending', 'resolved']
await startPage('alerts')
const content = document.getElementById('content')
const tabs = el('div', { class: 'tabs', role: 'group', 'aria-label': 'alert state' })
const body = el('div', { id: 'alerts' })
let current = 'firing'

async function ack(alert) {
  const { ok, data, status } = await api(`/api/v1/alerts/${encodeURIComponent(alert.id)}/ack`, {
    method: 'POST',
    body: {},
  })
  if (!ok) return message(data.message ?? `acknowledge refused (${status})`, 'error')
  message(`Alert ${alert.id} (${alert.rule}, ${alert.subject}) acknowledged.`)
  await show(current)
}

async function show(state) {
  current = state
  for (const b of tabs.children) b.setAttribute('aria-pressed', String(b.textContent === state))
  const { ok, data, status } = await api(`/api/v1/alerts?state=${encodeURIComponent(state)}`)
  if (status === 404) {
    tabs.remove()
    return body.replaceChildren(
      el('p', { class: 'msg error', id: 'unavailable' }, 'Alerts are not available on this server.'),
    )
  }
  if (!ok)
    return body.replaceChildren(
      el('p', { class: 'msg error' }, data.message ?? `could not load alerts (${status})`),
    )
  const alerts = Array.isArray(data) ? data : (data.alerts ?? [])
  if (alerts.length === 0) return body.replaceChildren(el('p', { class: 'muted' }, `No ${state} alerts.`))
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
            ['Severity', 'Village', 'Subject', 'Alert', 'Since', 'Message', 'Acknowledged'].map((h, i) =>
              el('th', { class: i === 3 || i === 4 ? 'wide-only' : '' }, h),
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
              el('td', {}, el('span', { class: `badge sev-${a.severity}` }, a.severity)),
              el('td', {}, a.village),
              el('td', {}, [a.subject, a.field].filter(Boolean).join(' / ')),
              el('td', { class: 'wide-only' }, `${a.rule}${a.value !== undefined ? ` (${a.value})` : ''}`),
              el('td', { class: 'wide-only' }, fmtTime(a.startsAt ?? a.firedAtMs ?? a.startedAtMs)),
              el('td', {}, a.message ?? ''),
              el(
                'td',
                { class: 'ack' },
                a.ackedAtMs || a.state === 'acknowledged'
                  ? `by ${a.ackedBy ?? '?'} ${fmtTime(a.ackedAtMs)}`
                  : state === 'firing' || state === 'pending'
                    ? el('button', { type: 'button', class: 'plain', onclick: () => ack(a) }, 'Acknowledge')
                    : '',
              ),
            ),
          ),
        ),
      ),
    ),
  )
}

for (const s of STATES) tabs.append(el('button', { type: 'button', onclick: () => show(s) }, s))
content.replaceChildren(tabs, body)
await show('firing')
