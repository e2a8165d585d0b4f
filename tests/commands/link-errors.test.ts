import { afterEach, describe, expect, it } from 'vitest'
import { CommandService, defaultCommandOptions } from '../../src/commands/index.ts'
import { KampungError } from '../../src/errors.ts'
import { Registry } from '../../src/registry/index.ts'
import { SCHEMAS } from '../../src/schemas.ts'
import { waitFor } from '../harness/app.ts'

/** What a link's refusal does to a command: a permanent one fails it, a passing one keeps it queued. */
describe('command link errors', () => {
  const parts: Array<{ stop(): Promise<void> }> = []
  afterEach(async () => {
    for (const p of parts.reverse()) await p.stop()
    parts.length = 0
  })

  async function service(error: KampungError) {
    const registry = new Registry({ path: ':memory:', schemas: SCHEMAS })
    await registry.start()
    parts.push(registry)
    registry.addVillage({ id: 'kemiren', name: 'Kemiren' })
    await registry.addDevice({ id: 'lora-1', village: 'kemiren', kind: 'soil', format: 'chirpstack' })
    let tries = 0
    const commands = new CommandService({
      ...defaultCommandOptions,
      checkEveryMs: 20,
      registry,
      link: {
        publishDown: async () => {
          tries++
          throw error
        },
      },
    })
    await commands.start()
    parts.push(commands)
    commands.onStatus({ village: 'kemiren', device: 'lora-1', state: 'online', atMs: Date.now() })
    return { commands, tries: () => tries }
  }

  it('a permanent refusal (not retryable) fails the command with its reason, once', async () => {
    const s = await service(
      new KampungError('unencodable_command', 'binary downlink: setting thresholdPct has no binary key', {
        retryable: false,
      }),
    )
    s.commands.submit({ id: 'c-1', device: 'lora-1', kind: 'reboot' })
    await waitFor('failed', () => s.commands.get('c-1')!.state === 'failed')
    expect(s.commands.get('c-1')!.error).toBe('binary downlink: setting thresholdPct has no binary key')
    await new Promise((r) => setTimeout(r, 100))
    expect(s.tries()).toBe(1)
  })

  it('a passing one (retryable) keeps it queued and tries again', async () => {
    const s = await service(new KampungError('lorawan_unreached', 'not heard yet', { retryable: true }))
    s.commands.submit({ id: 'c-2', device: 'lora-1', kind: 'reboot' })
    await waitFor('tried again', () => s.tries() >= 3)
    expect(s.commands.get('c-2')!.state).toBe('queued')
  })
})
