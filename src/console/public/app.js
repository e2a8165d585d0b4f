// Shared by every console page: the session, API calls with the CSRF token, safe DOM building,
// the page's language (i18n.js). Data is only ever put into the page as text (el() makes text
// nodes), never parsed as HTML.
import { currentLanguage, LANGUAGE_NAMES, LANGUAGES, setLanguage, t, time } from './i18n.js'

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
  setLanguage(s.language)
  translatePage()
  return s
}

/** Elements marked with a data-i18n key get its text; the <title> too (with the brand). */
export function translatePage() {
  for (const node of document.querySelectorAll('[data-i18n]')) node.textContent = t(node.dataset.i18n)
  const title = document.querySelector('title')
  if (title?.dataset.i18nTitle) document.title = `${t(title.dataset.i18nTitle)} · ${t('app.brand')}`
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

/** Date and time in WIB, in the page's language. */
export const fmtTime = time

/** A tree's state in the page's language (the code stays in data-state). */
export function stateName(state) {
  return t(`state.${state}`)
}

export function stateBadge(state) {
  return el('span', { class: `badge state-${state}`, 'data-state': state }, stateName(state))
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
    ['queue', '/console/', t('nav.queue')],
    ['alerts', '/console/alerts', t('nav.alerts')],
    ['map', '/console/map', t('nav.map')],
    ...(s.role === 'admin' ? [['devices', '/console/devices', t('nav.devices')]] : []),
    ['audit', '/console/audit', t('nav.audit')],
  ]
  const logout = el('button', { type: 'button', class: 'link', id: 'logout' }, t('nav.logout'))
  logout.addEventListener('click', async () => {
    await fetch('/api/v1/session', {
      method: 'DELETE',
      headers: { ...CONSOLE_HEADER, 'x-csrf-token': csrfToken },
    })
    location.assign('/console/login')
  })
  document.querySelector('header').replaceChildren(
    el('a', { href: '/console/', class: 'brand' }, t('app.brand')),
    el(
      'nav',
      {},
      links.map(([id, href, text]) => el('a', { href, class: id === current ? 'current' : '' }, text)),
    ),
    el('span', { class: 'who' }, `${s.user} (${t(`role.${s.role}`)})`, ' ', languageSwitch(), ' ', logout),
  )
  return s
}

/** The user's own language: stored with the account, then the page is drawn again in it. */
function languageSwitch() {
  const select = el(
    'select',
    { id: 'language', 'aria-label': t('nav.language'), title: t('nav.language') },
    LANGUAGES.map((l) =>
      el(
        'option',
        { value: l, lang: l, selected: l === currentLanguage() ? 'selected' : undefined },
        LANGUAGE_NAMES[l],
      ),
    ),
  )
  select.addEventListener('change', async () => {
    const { ok } = await api('/api/v1/session/language', { method: 'PUT', body: { language: select.value } })
    if (ok) {
      setLanguage(select.value)
      location.reload()
    }
  })
  return select
}
