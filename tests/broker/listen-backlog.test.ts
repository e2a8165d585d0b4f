import { execFileSync, fork } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Broker } from '../../broker/index.ts'
import { Registry } from '../../src/registry/index.ts'

/**
 * A reconnect storm's SYNs arrive while the broker is busy: the listen backlog must hold them, or
 * the kernel drops those beyond it and each node's TCP tries again only after a second (then 3,
 * 7 s). Here the broker's event loop is blocked while another process opens a burst of
 * connections, and the kernel's accept queue of the listening socket (`ss`: Recv-Q, handshakes
 * completed and not yet accepted) is read meanwhile: it holds the whole burst, or stops at the
 * backlog (the rest dropped).
 */

const somaxconn = Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8').trim())
/** Well over Node's default backlog (511), within what the kernel grants. */
const BURST = Math.min(1_500, somaxconn - 64)

const CLIENT = `
const net = require('node:net')
const [port, n] = process.argv.slice(2).map(Number)
process.send('ready')
for (let i = 0; i < n; i++) net.connect(port, '127.0.0.1').on('error', () => {})
process.on('disconnect', () => process.exit(0))
`

/** Handshakes completed and waiting for accept() on the listening socket at `port`. */
function acceptQueue(port: number): number {
  const line = execFileSync('ss', ['-ltnH', `sport = :${port}`], { encoding: 'utf8' }).trim()
  return Number(line.split(/\s+/)[1])
}

describe('listen backlog', () => {
  let dir: string
  let registry: Registry
  let script: string

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'kampung-backlog-'))
    registry = new Registry({ path: path.join(dir, 'registry.db'), schemas: [] })
    await registry.start()
    script = path.join(dir, 'burst.cjs')
    writeFileSync(script, CLIENT)
  })

  afterAll(async () => {
    await registry?.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  /**
   * The accept queue's longest length while BURST connections arrive and this event loop, which
   * accepts for the broker, is blocked (up to 5 s, until the whole burst is queued).
   */
  async function queuedWhileBlocked(listenBacklog: number): Promise<number> {
    const broker = new Broker({ host: '127.0.0.1', port: 0, registry, listenBacklog })
    await broker.start()
    const child = fork(script, [String(broker.port), String(BURST)], { stdio: 'ignore' })
    try {
      await new Promise<void>((resolve, reject) => {
        child.once('message', () => resolve())
        child.once('exit', (code) => reject(new Error(`burst client exited (${code})`)))
      })
      // Busy: no accept() while the burst's SYNs arrive, as in a storm's long turns of the loop.
      let longest = 0
      const until = Date.now() + 5_000
      while (Date.now() < until && longest < BURST) longest = Math.max(longest, acceptQueue(broker.port))
      return longest
    } finally {
      child.disconnect()
      await broker.stop()
    }
  }

  it(`holds a burst of ${BURST} handshakes the broker cannot accept yet (Node's 511 drops the rest)`, async () => {
    expect(BURST).toBeGreaterThan(1_000)
    // The default (0: maxConnections, capped by somaxconn): the kernel completes every handshake.
    const queuedDefault = await queuedWhileBlocked(0)
    // Node's own default: the queue stops at 511 + 1, the SYNs beyond are dropped.
    const queuedSmall = await queuedWhileBlocked(511)
    console.log(`accept queue while blocked: default backlog ${queuedDefault}, backlog 511 ${queuedSmall}`)
    expect(queuedDefault).toBe(BURST)
    expect(queuedSmall).toBeLessThanOrEqual(512)
  }, 30_000)
})
