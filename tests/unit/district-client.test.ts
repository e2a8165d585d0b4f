import net from 'node:net'
import mqttPacket from 'mqtt-packet'
import { afterEach, describe, expect, it } from 'vitest'
import { LoadProcess } from '../../bench/district.ts'
import type { ClientDump, PhaseJob, PhaseResult } from '../../bench/district-client.ts'
import type { LoadDevice } from '../../bench/load-client.ts'

/**
 * The district benchmark's load process (bench/district-client.ts) against a scripted MQTT
 * server: a PUBACK the server withholds ends the phase with a dump naming the node and report
 * (the watchdog) instead of a hang; a duplicate PUBACK is not counted; a connection that comes
 * back between `prepare` and `go` does not send the phase's reports before `go` (their PUBACKs
 * were counted by nobody and the phase waited forever).
 */

interface Script {
  /** PUBACKs not sent: `<client id>/<message id>`. */
  withhold: Set<string>
  /** PUBACKs sent twice. */
  twice: Set<string>
  publishes: Array<{ client: string; messageId: number; atMs: number }>
}

function scriptedServer(
  script: Script,
): Promise<{ port: number; sockets: Set<net.Socket>; close: () => void }> {
  const sockets = new Set<net.Socket>()
  const server = net.createServer((socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => {})
    const parser = mqttPacket.parser()
    let client = ''
    parser.on('packet', (p) => {
      if (p.cmd === 'connect') {
        client = p.clientId
        socket.write(mqttPacket.generate({ cmd: 'connack', returnCode: 0, sessionPresent: false }))
      } else if (p.cmd === 'publish') {
        const key = `${client}/${p.messageId}`
        script.publishes.push({ client, messageId: p.messageId!, atMs: Date.now() })
        if (script.withhold.has(key)) return
        const ack = mqttPacket.generate({ cmd: 'puback', messageId: p.messageId })
        socket.write(script.twice.has(key) ? Buffer.concat([ack, ack]) : ack)
      } else if (p.cmd === 'pingreq') socket.write(mqttPacket.generate({ cmd: 'pingresp' }))
      else if (p.cmd === 'disconnect') socket.end()
    })
    socket.on('data', (chunk) => parser.parse(chunk))
  })
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        port: (server.address() as net.AddressInfo).port,
        sockets,
        close: () => {
          for (const s of sockets) s.destroy()
          server.close()
        },
      }),
    ),
  )
}

const devices: LoadDevice[] = ['dev-0', 'dev-1', 'dev-2'].map((id) => ({
  id,
  village: 'v',
  secret: 'not-checked',
  kind: 'soil',
}))
const job = (reports: number): PhaseJob => ({
  baseTimeMs: Date.UTC(2026, 11, 3),
  reports,
  window: 1,
  ratePerS: 0,
})

let cleanup: Array<() => void> = []
afterEach(() => {
  for (const c of cleanup) c()
  cleanup = []
})

async function start(script: Script): Promise<{ load: LoadProcess; sockets: Set<net.Socket> }> {
  const server = await scriptedServer(script)
  const load = new LoadProcess()
  cleanup.push(server.close, () => load.child.kill('SIGKILL'))
  await load.request({
    cmd: 'init',
    init: {
      port: server.port,
      devices,
      keepaliveS: 60,
      retryMs: 100,
      connackTimeoutMs: 5_000,
      stallMs: 1_500,
    },
  })
  await load.request({ cmd: 'connect' })
  return { load, sockets: server.sockets }
}

describe('district load process', () => {
  it('ends a phase with a dump when a PUBACK never comes, and ignores a duplicate one', async () => {
    const script: Script = { withhold: new Set(['dev-1/2']), twice: new Set(['dev-0/1']), publishes: [] }
    const { load } = await start(script)
    await load.request({ cmd: 'prepare', job: job(3) })
    const started = Date.now()
    const err = (await load.request<PhaseResult>({ cmd: 'go' }, 10_000).then(
      () => undefined,
      (e: Error) => e,
    )) as (Error & { dump?: ClientDump }) | undefined
    expect(err?.message).toMatch(/phase stalled, no progress for \d+ s \(7 of 9 PUBACKs\)/)
    expect(Date.now() - started).toBeLessThan(5_000)
    const dump = err!.dump!
    expect(dump.counts.unexpectedAcks).toBe(1)
    expect(dump.notDone).toBe(1)
    const [stuck] = dump.stuck
    expect(stuck).toMatchObject({ id: 'dev-1', connected: true, acked: 1, next: 2, inFlight: 1 })
    // Report 1 (message id 2), sent and stored by nobody's PUBACK; the socket is open and idle.
    expect(stuck!.inFlightReports).toMatchObject([
      { index: 1, id: 2, deviceTimeMs: job(3).baseTimeMs + 60_000 },
    ])
    expect(stuck!.inFlightReports[0]!.sentMsAgo).toBeGreaterThanOrEqual(1_500)
    expect(stuck!.socket).toMatchObject({ readyState: 'open', writableLength: 0 })
    expect(stuck!.lastRxType).toBe('puback')
    // The duplicate is on dev-0, which finished its three reports all the same.
    const again = await load.request<ClientDump>({ cmd: 'dump' })
    expect(again.stuck.map((n) => n.id)).toEqual(['dev-1'])
  })

  it('does not send a prepared phase before go when a connection comes back in between', async () => {
    const script: Script = { withhold: new Set(), twice: new Set(), publishes: [] }
    const { load, sockets } = await start(script)
    await load.request({ cmd: 'prepare', job: job(2) })
    expect((await load.request<PhaseResult>({ cmd: 'go' }, 10_000)).messages).toBe(6)

    await load.request({ cmd: 'prepare', job: job(2) })
    // The server drops every connection; the nodes reconnect (retryMs 100 ± half) before `go`.
    for (const s of sockets) s.destroy()
    for (let i = 0; i < 50; i++) {
      await new Promise((r) => setTimeout(r, 100))
      const dump = await load.request<ClientDump>({ cmd: 'dump' })
      if (dump.connected === 3 && sockets.size === 3) break
    }
    const beforeGo = script.publishes.length
    await new Promise((r) => setTimeout(r, 300))
    expect(script.publishes.length).toBe(beforeGo)
    const result = await load.request<PhaseResult>({ cmd: 'go' }, 10_000)
    expect(result.messages).toBe(6)
    expect(result.latenciesMs.length).toBe(6)
    const dump = await load.request<ClientDump>({ cmd: 'dump' })
    expect(dump.counts.dropped).toBe(3)
    expect(dump.stuck).toEqual([])
  })
})
