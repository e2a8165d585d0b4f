import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { chmodSync, copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { freePort, waitForPort } from './ports.ts'

export interface MosquittoHandle {
  url: string
  port: number
  /** The broker's process id (the benchmark reads its CPU time from /proc). */
  pid: number
  stop(): Promise<void>
}

const MOSQUITTO = ['/usr/sbin/mosquitto', 'mosquitto']

export interface MosquittoOptions {
  /** Accounts (user → password) in a password file; anonymous clients are then refused. */
  users?: Record<string, string>
  /** An ACL file to use as is, e.g. deploy/mosquitto/kampung.acl. */
  aclFile?: string
}

/**
 * A real Mosquitto on a free port in a temp dir. `max_queued_messages 0` and a large inflight
 * window: the default (1 000 queued) silently drops QoS 1 messages to a slow subscriber while
 * still acknowledging the publisher. Anonymous unless `users` are given; with `aclFile`, that ACL.
 */
export async function startMosquitto(opts: MosquittoOptions = {}): Promise<MosquittoHandle> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kampung-mosquitto-'))
  chmodSync(dir, 0o777) // started as root it drops to the `mosquitto` user
  const port = await freePort()
  const conf = path.join(dir, 'mosquitto.conf')
  const auth: string[] = ['allow_anonymous true']
  if (opts.users) {
    const passwd = path.join(dir, 'passwd')
    writeFileSync(passwd, '')
    for (const [user, password] of Object.entries(opts.users))
      execFileSync('mosquitto_passwd', ['-b', passwd, user, password], { stdio: 'ignore' })
    chmodSync(passwd, 0o644)
    auth.splice(0, 1, 'allow_anonymous false', `password_file ${passwd}`)
  }
  if (opts.aclFile) {
    const acl = path.join(dir, 'acl')
    copyFileSync(opts.aclFile, acl)
    chmodSync(acl, 0o644)
    auth.push(`acl_file ${acl}`)
  }
  writeFileSync(
    conf,
    [
      'per_listener_settings false',
      `listener ${port} 127.0.0.1`,
      ...auth,
      'persistence false',
      'max_queued_messages 0',
      'max_inflight_messages 0',
      'log_dest stderr',
      'log_type error',
      'log_type warning',
      '',
    ].join('\n'),
  )
  let stderr = ''
  let proc: ChildProcess | undefined
  for (const bin of MOSQUITTO) {
    try {
      proc = spawn(bin, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] })
      await new Promise<void>((resolve, reject) => {
        proc!.once('spawn', resolve)
        proc!.once('error', reject)
      })
      break
    } catch {
      proc = undefined
    }
  }
  if (!proc) throw new Error('mosquitto not found: install the Debian package "mosquitto"')
  proc.stderr?.on('data', (d) => {
    stderr += d.toString()
  })
  try {
    await waitForPort(port, 10_000)
  } catch (err) {
    proc.kill('SIGKILL')
    throw new Error(`mosquitto did not start: ${(err as Error).message}\n${stderr}`)
  }
  const child = proc
  return {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    pid: child.pid!,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r))
        child.kill('SIGTERM')
        await exited
      }
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
