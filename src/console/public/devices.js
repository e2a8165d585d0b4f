import { api, el, fmtTime, message, startPage } from './app.js'

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
      el('p', {}, `${what} ${device.id}. Its secret (shown only now, store it on the device):`),
      el('p', { class: 'secret', id: 'secret-value' }, secret),
      el(
        'p',
        { class: 'muted' },
        `MQTT: username ${device.id}, topic kampung/${device.village}/${device.id}/up`,
      ),
    ),
  )
}

async function rotate(device) {
  if (!confirm(`Issue a new secret for ${device.id}? The old one stops working at once.`)) return
  const { ok, data, status } = await api(`/api/v1/devices/${encodeURIComponent(device.id)}/rotate-secret`, {
    method: 'POST',
    body: {},
  })
  if (!ok) return message(data.message ?? `rotate refused (${status})`, 'error')
  message('')
  showSecret(data.device, data.secret, 'New secret for')
}

async function load() {
  const { ok, data, status } = await api('/api/v1/devices')
  if (status === 403) {
    content.replaceChildren(el('p', { class: 'msg error', id: 'forbidden' }, 'Only admins manage devices.'))
    return false
  }
  if (!ok) return message(data.message ?? `could not load devices (${status})`, 'error')
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
            el('th', {}, 'Device'),
            el('th', {}, 'Village'),
            el('th', {}, 'Kind'),
            el('th', { class: 'wide-only' }, 'Format'),
            el('th', { class: 'wide-only' }, 'Created'),
            el('th', {}, ''),
          ),
        ),
        el(
          'tbody',
          {},
          data.devices.map((d) =>
            el(
              'tr',
              { 'data-device': d.id },
              el('td', {}, d.id),
              el('td', {}, d.village),
              el('td', {}, d.kind),
              el('td', { class: 'wide-only' }, d.format),
              el('td', { class: 'wide-only' }, fmtTime(d.createdAtMs)),
              el(
                'td',
                {},
                el('button', { type: 'button', class: 'plain', onclick: () => rotate(d) }, 'Rotate secret'),
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
    'Id',
    el('input', { name: 'id', id: 'id', required: true, pattern: '[a-z0-9][a-z0-9_-]{0,62}' }),
  ),
  el('label', {}, 'Village', el('input', { name: 'village', id: 'village', required: true })),
  el('label', {}, 'Kind', select('kind', KINDS)),
  el('label', {}, 'Format', select('format', FORMATS)),
  el('button', { type: 'submit', class: 'primary' }, 'Add device'),
)
form.addEventListener('submit', async (event) => {
  event.preventDefault()
  const f = new FormData(form)
  const body = Object.fromEntries(['id', 'village', 'kind', 'format'].map((k) => [k, String(f.get(k))]))
  const { ok, data, status } = await api('/api/v1/devices', { method: 'POST', body })
  if (!ok)
    return message([data.message ?? `refused (${status})`, ...(data.problems ?? [])].join('; '), 'error')
  message('')
  form.reset()
  showSecret(data.device, data.secret, 'Added')
  await load()
})

if (await load())
  content.replaceChildren(
    el('h2', {}, 'Add a device'),
    form,
    secretBox,
    el('h2', {}, 'Registered devices'),
    list,
  )
