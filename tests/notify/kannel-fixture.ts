import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import express from 'express'
import { smsRouter } from '../../src/api/index.ts'
import { KannelSender, kannelMoService, type SmsSender } from '../../src/notify/index.ts'
import { type KannelHandle, startKannel } from '../harness/kannel.ts'
import { freePort } from '../harness/ports.ts'

/**
 * A real Kannel whose DLR and MO callbacks reach the KannelSender's callbacks through src/api's
 * smsRouter, mounted under /api/v1 in a bare express app (as src/api/server.ts mounts it). `current` lets a test
 * swap the sender behind the routes (a "restarted process").
 */
export interface KannelRig {
  kannel: KannelHandle
  apiBaseUrl: string
  /** The callback token the rig's Kannel sends (HTTP Basic in its get-url and our dlr-url). */
  token: string
  newSender(opts?: { callbackToken?: string; callbackAllowFrom?: string[] }): KannelSender
  /** The sender whose routes answer callbacks now. */
  use(sender: KannelSender): void
  stop(): Promise<void>
}

export async function startKannelRig(): Promise<KannelRig> {
  const port = await freePort()
  const apiBaseUrl = `http://127.0.0.1:${port}/api/v1`
  let current: ReturnType<typeof smsRouter> | undefined
  const app = express()
  app.use('/api/v1', (req, res, next) => (current ? current(req, res, next) : next()))
  const server: Server = app.listen(port, '127.0.0.1')
  await new Promise<void>((resolve) => server.once('listening', resolve))
  const token = 'rig-callback-token-0123456789'
  const kannel = await startKannel({
    moUrl: `${apiBaseUrl}/sms/kannel/mo`,
    smsService: kannelMoService({ callbackBaseUrl: apiBaseUrl, callbackToken: token }),
  })
  return {
    kannel,
    apiBaseUrl,
    token,
    newSender: (opts = {}) =>
      new KannelSender({
        sendsmsUrl: kannel.sendsmsUrl,
        username: kannel.username,
        password: kannel.password,
        from: 'KAMPUNG',
        callbackBaseUrl: apiBaseUrl,
        callbackToken: token,
        ...opts,
      }),
    use(sender) {
      current = smsRouter(sender.callbacks())
    },
    async stop() {
      await kannel.stop()
      server.closeAllConnections()
      await new Promise((r) => server.close(r))
    },
  }
}

export function serverPort(server: Server): number {
  return (server.address() as AddressInfo).port
}

export type { SmsSender }
