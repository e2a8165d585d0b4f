import { describe, expect, it } from 'vitest'
import { ConsoleSender, createNotify, notifySchema } from '../../src/notify/index.ts'
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

describe('sender callback routes', () => {
  it('createNotify serves the sender callbacks() when it has them (Kannel), none otherwise', () => {
    const kannel = createNotify(
      notifySchema.parse({
        sender: 'kannel',
        kannel: { password: 'pw', callbackToken: 'callback-token-0123' },
      }),
      {
        dataDir: '/nonexistent',
      },
    )
    expect(kannel.callbacks?.map((c) => c.path).length).toBeGreaterThan(0)
    const consoleOnly = createNotify(notifySchema.parse({ sender: 'console' }), { dataDir: '/nonexistent' })
    expect(consoleOnly.callbacks).toBeUndefined()
    const smpp = createNotify(notifySchema.parse({ sender: 'smpp', smpp: { password: 'pw' } }), {
      dataDir: '/nonexistent',
    })
    expect(smpp.callbacks).toBeUndefined()
  })
})
