import { el, message, translatePage } from './app.js'
import {
  currentLanguage,
  LANGUAGE_NAMES,
  LANGUAGES,
  refusal,
  rememberedLanguage,
  setLanguage,
} from './i18n.js'

// Only our own console pages are places to come back to (no open redirect).
function nextPage() {
  const next = new URLSearchParams(location.search).get('next') ?? ''
  return /^\/console\/[\w\-./?=&%]*$/.test(next) && !next.startsWith('//') ? next : '/console/'
}

/** Nobody is logged in yet: the language this browser used last, else the server's default. */
async function pageLanguage() {
  const remembered = rememberedLanguage()
  if (remembered) return remembered
  const res = await fetch('/api/v1/session', { headers: { 'x-kampung-console': '1' } })
  const body = await res.json().catch(() => ({}))
  return res.ok ? body.language : body.defaultLanguage
}

function drawLanguageChoice() {
  document.getElementById('language-choice').replaceChildren(
    ...LANGUAGES.map((l) =>
      el(
        'button',
        {
          type: 'button',
          class: 'link',
          lang: l,
          'data-language': l,
          'aria-pressed': String(l === currentLanguage()),
          onclick: () => {
            setLanguage(l)
            translatePage()
            drawLanguageChoice()
            message('')
          },
        },
        LANGUAGE_NAMES[l],
      ),
    ),
  )
}

setLanguage(await pageLanguage())
translatePage()
drawLanguageChoice()

document.getElementById('login').addEventListener('submit', async (event) => {
  event.preventDefault()
  const form = new FormData(event.target)
  message('')
  const res = await fetch('/api/v1/session', {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-kampung-console': '1' },
    body: JSON.stringify({ user: form.get('user'), password: form.get('password') }),
  })
  if (res.ok) {
    const s = await res.json()
    setLanguage(s.language) // the account's language wins from now on, on this browser too
    return location.assign(nextPage())
  }
  const body = await res.json().catch(() => ({}))
  const minutes = Math.ceil(Number(res.headers.get('retry-after') ?? 0) / 60)
  message(refusal(body, res.status, 'login.failed', { minutes }), 'error')
})
