import { expect } from 'vitest'

/** A console user's API session: the cookie and the CSRF token writes must send. */
export interface ApiSession {
  cookie: string
  csrfToken: string
  /** Headers for a request as this user: cookie and `x-csrf-token`. */
  headers: { cookie: string; 'x-csrf-token': string }
}

/** Logs a console user in through `POST /api/v1/session` (expects 200) and returns the session. */
export async function apiSession(apiUrl: string, user: string, password: string): Promise<ApiSession> {
  const res = await fetch(`${apiUrl}/api/v1/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ user, password }),
  })
  expect(res.status, `login ${user}`).toBe(200)
  const cookie = (res.headers.get('set-cookie') ?? '').split(';')[0]!
  const { csrfToken } = (await res.json()) as { csrfToken: string }
  return { cookie, csrfToken, headers: { cookie, 'x-csrf-token': csrfToken } }
}
