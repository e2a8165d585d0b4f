import { type ChildProcess, spawn } from 'node:child_process'
import { chmodSync, mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { freePort, waitForPort } from './ports.ts'

export interface RedisHandle {
  /** `redis://127.0.0.1:PORT` */
  url: string
  port: number
  /** SIGSTOP: Redis holds its connections but answers nothing (a stalled peer). */
  pause(): void
  /** SIGCONT after pause(). */
  resume(): void
  stop(): Promise<void>
}

const REDIS_SERVER = process.env.REDIS_SERVER_BIN ?? '/usr/bin/redis-server'

const live = new Set<ChildProcess>()
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL')
})

/**
 * A real redis-server on a free port in a temp dir, in memory only (no RDB snapshot, no AOF):
 * the tests restart broker instances, never Redis itself. Production Redis wants `appendonly yes`
 * (docs/deployment.md).
 */
export async function startRedis(): Promise<RedisHandle> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kampung-redis-'))
  chmodSync(dir, 0o777)
  const port = await freePort()
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']
  const child = spawn(REDIS_SERVER, [...args, '--dir', dir], { stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  const keep = (d: Buffer) => {
    output = (output + d.toString()).slice(-4000)
  }
  child.stdout?.on('data', keep)
  child.stderr?.on('data', keep)
  const spawned = await new Promise<Error | undefined>((resolve) => {
    child.once('spawn', () => resolve(undefined))
    child.once('error', resolve)
  })
  if (spawned) {
    rmSync(dir, { recursive: true, force: true })
    throw new Error(`redis-server not found (${spawned.message}): install the Debian package "redis-server"`)
  }
  live.add(child)
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      live.delete(child)
      resolve()
    }),
  )
  try {
    await waitForPort(port, 10_000)
  } catch (err) {
    child.kill('SIGKILL')
    await exited
    rmSync(dir, { recursive: true, force: true })
    throw new Error(`redis-server did not start: ${(err as Error).message}\n${output}`)
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    pause: () => child.kill('SIGSTOP'),
    resume: () => child.kill('SIGCONT'),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGCONT')
        child.kill('SIGTERM')
        await exited
      }
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
