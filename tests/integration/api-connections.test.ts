import net from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startApp, type TestApp } from '../harness/app.ts'

/**
 * Issue 18 scope 6, the HTTP side: what one outsider can hold open on the API port is bounded
 * (per address; loopback, where a TLS proxy sits, is not capped), sockets that say nothing or
 * trickle their headers are closed, and /health keeps answering meanwhile.
 */
describe('API connection limits', () => {
  let t: TestApp
  const sockets: net.Socket[] = []
  beforeAll(async () => {
    t = await startApp({
      api: {
        connections: { maxConnectionsPerAddress: 20, headersTimeoutMs: 1_500, requestTimeoutMs: 3_000 },
      },
    })
  })
  afterAll(async () => {
    for (const s of sockets) s.destroy()
    await t.stop()
  })

  const open = (localAddress: string) =>
    new Promise<{ socket: net.Socket; closed: Promise<number>; received: () => string }>(
      (resolve, reject) => {
        const socket = net.connect({ host: '127.0.0.1', port: Number(new URL(t.apiUrl).port), localAddress })
        sockets.push(socket)
        socket.on('error', () => {})
        let received = ''
        socket.on('data', (d) => {
          received += d.toString() // read what the server sends (an answer, a 408), so its close is seen
        })
        const openedAt = Date.now()
        const closed = new Promise<number>((r) => socket.once('close', () => r(Date.now() - openedAt)))
        socket.once('connect', () => resolve({ socket, closed, received: () => received }))
        socket.once('error', reject)
      },
    )

  it('holds at most maxConnectionsPerAddress from one address; /health answers meanwhile', async () => {
    const held = await Promise.all(Array.from({ length: 60 }, () => open('127.0.0.2')))
    await new Promise((r) => setTimeout(r, 300))
    const alive = held.filter((h) => !h.socket.destroyed && h.socket.readyState === 'open')
    expect(alive.length).toBeLessThanOrEqual(20)
    expect(alive.length).toBeGreaterThan(0)
    const health = await fetch(`${t.apiUrl}/health`)
    expect(health.status).toBe(200)
    // another address is not affected by the first one's cap
    const other = await open('127.0.0.3')
    other.socket.write('GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
    await other.closed
    expect(other.received()).toMatch(/^HTTP\/1\.1 200/)
  })

  it('closes a socket that trickles its headers, after headersTimeoutMs', async () => {
    const slow = await open('127.0.0.4')
    slow.socket.write('GET /health HTTP/1.1\r\nHost: x\r\n')
    const ms = await slow.closed
    expect(ms).toBeGreaterThanOrEqual(1_400)
    expect(ms).toBeLessThan(6_000)
  })
})
