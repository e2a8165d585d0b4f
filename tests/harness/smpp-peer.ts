import type { AddressInfo } from 'node:net'
import smpp, { type Pdu, type Server, type Session } from 'smpp'

export interface PeerSubmit {
  messageId: string
  from: string
  to: string
  text: string
  dataCoding: number
}

export interface SmppPeer {
  port: number
  submits: PeerSubmit[]
  /** Sessions bound right now. */
  bound(): number
  /** An MO deliver_sm to every bound session. */
  injectMo(from: string, to: string, text: string): void
  /** Drop every connection (the client must reconnect). */
  dropAll(): void
  /** While true, submit_sm gets no answer (an in-doubt submission). */
  silent: boolean
  stop(): Promise<void>
}

/**
 * An SMSC played by the `smpp` package's own server: checks the bind, answers submit_sm with a
 * message id, sends a delivery receipt (deliver_sm, esm_class 0x04) and can inject MO messages.
 * Numbers in `rejectNumbers` are refused with ESME_RINVDSTADR.
 */
export async function startSmppPeer(opts: {
  systemId: string
  password: string
  rejectNumbers?: string[]
  port?: number
}): Promise<SmppPeer> {
  const sessions = new Set<Session>()
  let seq = 0
  const peer: SmppPeer = {
    port: 0,
    submits: [],
    bound: () => sessions.size,
    silent: false,
    injectMo(from, to, text) {
      for (const s of sessions) {
        s.deliver_sm({
          source_addr: from.replace(/^\+/, ''),
          source_addr_ton: 1,
          destination_addr: to,
          short_message: text,
        })
      }
    },
    dropAll() {
      for (const s of sessions) s.destroy()
      sessions.clear()
    },
    async stop() {
      peer.dropAll()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
  const server: Server = smpp.createServer((session: Session) => {
    session.on('error', () => {})
    session.on('close', () => sessions.delete(session))
    session.on('bind_transceiver', (pdu: Pdu) => {
      if (pdu.system_id !== opts.systemId || pdu.password !== opts.password) {
        session.send(pdu.response({ command_status: smpp.ESME_RBINDFAIL }))
        session.close()
        return
      }
      session.send(pdu.response({ system_id: 'peer' }))
      sessions.add(session)
    })
    session.on('enquire_link', (pdu: Pdu) => session.send(pdu.response()))
    session.on('unbind', (pdu: Pdu) => {
      session.send(pdu.response())
      session.close()
    })
    session.on('submit_sm', (pdu: Pdu) => {
      const to = String(pdu.destination_addr)
      const content = (pdu.message_payload ?? pdu.short_message) as { message?: string | Buffer }
      const text = typeof content?.message === 'string' ? content.message : String(content?.message ?? '')
      if (peer.silent) return
      if (opts.rejectNumbers?.includes(`+${to}`)) {
        session.send(pdu.response({ command_status: smpp.ESME_RINVDSTADR }))
        return
      }
      const messageId = `peer-${++seq}`
      peer.submits.push({
        messageId,
        from: String(pdu.source_addr),
        to,
        text,
        dataCoding: Number(pdu.data_coding),
      })
      session.send(pdu.response({ message_id: messageId }))
      setTimeout(() => {
        session.deliver_sm({
          source_addr: to,
          destination_addr: String(pdu.source_addr),
          esm_class: 0x04,
          receipted_message_id: messageId,
          short_message: `id:${messageId} sub:001 dlvrd:001 submit date:2601010000 done date:2601010000 stat:DELIVRD err:000 text:`,
        })
      }, 20)
    })
  })
  await new Promise<void>((resolve) => server.listen(opts.port ?? 0, '127.0.0.1', resolve))
  peer.port = (server.address() as AddressInfo).port
  return peer
}
