import { api, el, fmtTime, message, startPage } from './app.js'
import { refusal, t } from './i18n.js'

const KINDS = ['soil', 'weather', 'dendrometer', 'gateway', 'other', 'service']
const FORMATS = ['json', 'senml', 'lpp', 'chirpstack', 'tts']

await startPage('devices')
const content = document.getElementById('content')
const secretBox = el('div', { id: 'secret' })
const list = el('div', { id: 'devices' })

/** The secret is in this one answer only: shown once, never fetched again. */
function showSecret(device, secret, what) {
  secretBox.replaceChildren(
    el(
      'div',
      { class: 'card' },
      el('p', {}, t(what, { id: device.id })),
      el('p', { class: 'secret', id: 'secret-value' }, secret),
      el(
        'p',
        { class: 'muted' },
        t('devices.mqtt', { id: device.id, topic: `kampung/${device.village}/${device.id}/up` }),
      ),
    ),
  )
}

async function rotate(device) {
  if (!confirm(t('devices.rotateConfirm', { id: device.id }))) return
  const { ok, data, status } = await api(`/api/v1/devices/${encodeURIComponent(device.id)}/rotate-secret`, {
    method: 'POST',
    body: {},
  })
  if (!ok) return message(refusal(data, status, 'devices.rotateRefused'), 'error')
  message('')
  showSecret(data.device, data.secret, 'devices.secretRotated')
}

async function load() {
  const { ok, data, status } = await api('/api/v1/devices')
  if (status === 403) {
    content.replaceChildren(el('p', { class: 'msg error', id: 'forbidden' }, t('devices.forbidden')))
    return false
  }
  if (!ok) return message(refusal(data, status, 'devices.loadFailed'), 'error')
  list.replaceChildren(
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
            el('th', {}, t('devices.col.device')),
            el('th', {}, t('devices.col.village')),
            el('th', {}, t('devices.col.kind')),
            el('th', { class: 'wide-only' }, t('devices.col.format')),
            el('th', { class: 'wide-only' }, t('devices.col.created')),
            el('th', {}, ''),
          ),
        ),
        el(
          'tbody',
          {},
          data.devices.map((d) =>
            el(
              'tr',
              { 'data-device': d.id, id: `device-${d.id}` },
              el('td', {}, d.id),
              el('td', {}, d.village),
              el('td', {}, d.kind),
              el('td', { class: 'wide-only' }, d.format),
              el('td', { class: 'wide-only' }, fmtTime(d.createdAtMs)),
              el(
                'td',
                {},
                el('a', { href: `/console/device?id=${encodeURIComponent(d.id)}` }, t('devices.config')),
                ' ',
                el(
                  'button',
                  { type: 'button', class: 'plain', onclick: () => rotate(d) },
                  t('devices.rotate'),
                ),
              ),
            ),
          ),
        ),
      ),
    ),
  )
  return true
}

const select = (name, options) =>
  el(
    'select',
    { name, id: name },
    options.map((o) => el('option', { value: o }, o)),
  )
const form = el(
  'form',
  { class: 'row card', id: 'add-device' },
  el(
    'label',
    {},
    t('devices.id'),
    el('input', { name: 'id', id: 'id', required: true, pattern: '[a-z0-9][a-z0-9_-]{0,62}' }),
  ),
  el('label', {}, t('devices.village'), el('input', { name: 'village', id: 'village', required: true })),
  el('label', {}, t('devices.kind'), select('kind', KINDS)),
  el('label', {}, t('devices.format'), select('format', FORMATS)),
  el('button', { type: 'submit', class: 'primary' }, t('devices.add')),
)
form.addEventListener('submit', async (event) => {
  event.preventDefault()
  const f = new FormData(form)
  const body = Object.fromEntries(['id', 'village', 'kind', 'format'].map((k) => [k, String(f.get(k))]))
  const { ok, data, status } = await api('/api/v1/devices', { method: 'POST', body })
  if (!ok) return message(refusal(data, status, 'common.refused'), 'error')
  message('')
  form.reset()
  showSecret(data.device, data.secret, 'devices.secretAdded')
  await load()
})

if (await load())
  content.replaceChildren(
    el('h2', {}, t('devices.addHeading')),
    form,
    secretBox,
    el('h2', {}, t('devices.registered')),
    list,
  )
