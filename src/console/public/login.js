import { message } from './app.js'

// Only our own console pages are places to come back to (no open redirect).
function nextPage() {
  const next = new URLSearchParams(location.search).get('next') ?? ''
  return /^\/console\/[\w\-./?=&%]*$/.test(next) && !next.startsWith('//') ? next : '/console/'
}

document.getElementById('login').addEventListener('submit', async (event) => {
  event.preventDefault()
  const form = new FormData(event.target)
  message('')
  const res = await fetch('/api/v1/session', {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-kampung-console': '1' },
    body: JSON.stringify({ user: form.get('user'), password: form.get('password') }),
  })
  if (res.ok) return location.assign(nextPage())
  const body = await res.json().catch(() => ({}))
  message(body.message ?? `login failed (${res.status})`, 'error')
})
