import { SmppSender } from '../../src/notify/index.ts'
import { startSmppPeer } from '../harness/smpp-peer.ts'
import { senderContract } from './contract.ts'

senderContract('smpp (smpp package server as the SMSC)', async () => {
  const peer = await startSmppPeer({ systemId: 'kampung', password: 'pw' })
  const sender = new SmppSender({
    host: '127.0.0.1',
    port: peer.port,
    systemId: 'kampung',
    password: 'pw',
    sourceAddr: 'KAMPUNG',
    reconnectMs: 200,
  })
  return {
    sender,
    received: () => peer.submits,
    async injectMo(from, to, text) {
      peer.injectMo(from, to, text)
    },
    teardown: () => peer.stop(),
  }
})
