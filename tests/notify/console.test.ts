import { ConsoleSender } from '../../src/notify/index.ts'
import { senderContract } from './contract.ts'

senderContract('console', async () => {
  const lines: Array<{ to: string; text: string }> = []
  const sender = new ConsoleSender({ write: (l) => lines.push({ to: l.to, text: l.text }) })
  return {
    sender,
    received: () => lines,
    async injectMo(from, to, text) {
      sender.inject({ from, to, text })
    },
    async teardown() {},
  }
})
