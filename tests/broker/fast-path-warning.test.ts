import { mkdtempSync, rmSync } from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { FastPathVersions } from '../../broker/publish-fast-path.ts'
import { SCHEMAS } from '../../src/schemas.ts'

/** Log lines of every module (the real logger is silent under vitest), and the versions "installed". */
const state = vi.hoisted(() => ({
  records: [] as Array<{ mod: string; level: string; obj: unknown; msg: unknown }>,
  versions: undefined as FastPathVersions | undefined,
}))

vi.mock('../../src/log.ts', () => {
  const make = (mod: string): unknown => {
    const logger: Record<string, unknown> = {
      level: 'info',
      child: (bindings: { mod?: string }) => make(bindings.mod ?? mod),
      isLevelEnabled: () => true,
    }
    for (const level of ['trace', 'debug', 'info', 'warn', 'error', 'fatal'])
      logger[level] = (obj: unknown, msg?: unknown) => state.records.push({ mod, level, obj, msg })
    return logger
  }
  return { rootLogger: make('root'), getLogger: make }
})

vi.mock('../../broker/publish-fast-path.ts', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../broker/publish-fast-path.ts')>()
  return { ...real, installedVersions: () => state.versions ?? real.installedVersions() }
})

const { Broker } = await import('../../broker/index.ts')
const { Registry } = await import('../../src/registry/index.ts')

const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
  state.records.length = 0
  state.versions = undefined
})

async function startBroker() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kampung-fastpath-'))
  const registry = new Registry({ path: path.join(dir, 'registry.db'), schemas: SCHEMAS })
  await registry.start()
  const broker = new Broker({ host: '127.0.0.1', port: 0, registry })
  await broker.start()
  cleanups.push(
    () => rmSync(dir, { recursive: true, force: true }),
    () => registry.stop(),
    () => broker.stop(),
  )
  return broker
}

/** A client connection (refused at CONNECT: unknown id), which is enough for aedes to make a parser. */
async function connectOnce(port: number): Promise<void> {
  const socket = net.connect(port, '127.0.0.1')
  await new Promise((resolve) => socket.once('connect', resolve))
  // MQTT 3.1.1 CONNECT, client id "x", no credentials.
  socket.write(Buffer.from([0x10, 13, 0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 2, 0, 60, 0, 1, 0x78]))
  // The CONNACK (refused) or the close: either way the broker has handled this client.
  await new Promise((resolve) => {
    socket.once('data', resolve)
    socket.once('close', resolve)
  })
  socket.destroy()
}

const fastPathWarnings = () =>
  state.records.filter((r) => r.mod === 'broker' && r.level === 'warn' && String(r.msg).includes('fast path'))

describe('PUBLISH fast path: said once, at start, when it cannot be installed', () => {
  it('warns once at start when aedes is not the version the fast path reads, and not per client', async () => {
    state.versions = { aedes: '1.3.0', 'mqtt-packet': '9.0.2' }
    const broker = await startBroker()
    expect(fastPathWarnings()).toHaveLength(1)
    expect(fastPathWarnings()[0]!.obj).toEqual({ reason: 'aedes 1.3.0 installed, written for 1.2.0' })
    await connectOnce(broker.port)
    await connectOnce(broker.port)
    expect(fastPathWarnings()).toHaveLength(1)
  })

  it('says nothing with the pinned versions installed, and clients connect', async () => {
    const broker = await startBroker()
    await connectOnce(broker.port)
    expect(fastPathWarnings()).toEqual([])
  })
})
