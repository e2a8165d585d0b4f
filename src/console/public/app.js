// Shared by every console page: the session, API calls with the CSRF token, safe DOM building.
// Data is only ever put into the page as text (el() makes text nodes), never parsed as HTML.

const CONSOLE_HEADER = { 'x-kampung-console': '1' }
let csrfToken = ''

/** Back to the login page, coming back here afterwards. */
export function toLogin() {
  const next = location.pathname + location.search
  location.assign(`/console/login?next=${encodeURIComponent(next)}`)
}

/** The logged-in user ({user, role, csrfToken}); goes to the login page when there is none. */
export async function session() {
  const res = await fetch('/api/v1/session', { headers: CONSOLE_HEADER })
  if (res.status === 401) {
    toLogin()
    return new Promise(() => {}) // the page is being left
  }
  const s = await res.json()
  csrfToken = s.csrfToken
  return s
}

/**
 * A call to the API the CLI uses. State-changing calls carry the session's CSRF token. Answers
 * {status, ok, data}; a 401 (session over) goes to the login page.
 */
export async function api(path, { method = 'GET', body } = {}) {
  const headers = { ...CONSOLE_HEADER, 'x-csrf-token': csrfToken }
  if (body !== undefined) headers['content-type'] = 'application/json'
  const res = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  if (res.status === 401) {
    toLogin()
    return new Promise(() => {})
  }
  const data = await res.json().catch(() => ({}))
  return { status: res.status, ok: res.ok, data }
}

/** el('a', {href: x, class: 'y'}, 'text', child): attributes set as properties/attributes, children as text. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue
    if (k === 'class') node.className = v
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v)
    else node.setAttribute(k, String(v))
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue
    node.append(c instanceof Node ? c : document.createTextNode(String(c)))
  }
  return node
}

export function fmtTime(ms) {
  if (ms === undefined || ms === null) return ''
  const d = new Date(typeof ms === 'number' ? ms : Date.parse(ms))
  return Number.isNaN(d.getTime()) ? String(ms) : d.toLocaleString('id-ID', { timeZone: 'Asia/Jakarta' })
}

export function stateBadge(state) {
  return el('span', { class: `badge state-${state}` }, state)
}

/** Show a message in the page's #message box. kind: ok | error. */
export function message(text, kind = 'ok') {
  const box = document.getElementById('message')
  if (!box) return
  box.replaceChildren(text ? el('p', { class: `msg ${kind}`, role: 'status' }, text) : '')
}

/** Header with navigation and logout; returns the session. */
export async function startPage(current) {
  const s = await session()
  const links = [
    ['queue', '/console/', 'Verification queue'],
    ['alerts', '/console/alerts', 'Alerts'],
    ...(s.role === 'admin' ? [['devices', '/console/devices', 'Devices']] : []),
  ]
  const logout = el('button', { type: 'button', class: 'link', id: 'logout' }, 'Log out')
  logout.addEventListener('click', async () => {
    await fetch('/api/v1/session', {
      method: 'DELETE',
      headers: { ...CONSOLE_HEADER, 'x-csrf-token': csrfToken },
    })
    location.assign('/console/login')
  })
  document.querySelector('header').replaceChildren(
    el('a', { href: '/console/', class: 'brand' }, 'Smart Kampung'),
    el(
      'nav',
      {},
      links.map(([id, href, text]) => el('a', { href, class: id === current ? 'current' : '' }, text)),
    ),
    el('span', { class: 'who' }, `${s.user} (${s.role})`, ' ', logout),
  )
  return s
}
