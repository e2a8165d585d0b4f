import { senderContract } from './contract.ts'
import { startKannelRig } from './kannel-fixture.ts'

senderContract('kannel (bearerbox + smsbox + fakesmsc)', async () => {
  const rig = await startKannelRig()
  const sender = rig.newSender()
  rig.use(sender)
  return {
    sender,
    received: () => rig.kannel.received(),
    injectMo: (from, to, text) => rig.kannel.injectMo(from, to, text),
    teardown: () => rig.stop(),
  }
})
