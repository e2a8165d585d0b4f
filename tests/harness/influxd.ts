import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from './ports.ts'

/** A real influxd started for one test file. Never a service somebody started by hand. */
export interface InfluxdHandle {
  /** `http://127.0.0.1:PORT` */
  readonly url: string
  readonly port: number
  readonly dir: string
  /** The running influxd's process id (undefined while it is down). */
  readonly pid: number | undefined
  /** Sends the signal (default SIGTERM) and resolves once the process has exited. */
  kill(signal?: NodeJS.Signals): Promise<void>
  /** Starts influxd again on the same ports and data dir (data persists); resolves on /ping 204. */
  restart(): Promise<void>
  /** SIGTERM, wait for exit (SIGKILL after a grace period), remove the temp dir. */
  stop(): Promise<void>
}

export interface StartInfluxdOptions {
  binary?: string
  startTimeoutMs?: number
  /**
   * `[http] auth-enabled = true`, with this admin user created at start (over the HTTP API, as
   * InfluxDB 1.x allows for the first user). Every request then needs credentials.
   */
  admin?: { username: string; password: string }
}

const defaults = {
  binary: process.env.INFLUXD_BIN ?? '/usr/bin/influxd',
  // /ping answers in well under a second on this machine; 20 s covers a loaded CI box.
  startTimeoutMs: 20_000,
  pingIntervalMs: 50,
  stopGraceMs: 5_000,
  stderrTailBytes: 4_000,
}

function configText(dir: string, httpPort: number, rpcPort: number, auth: boolean): string {
  return `reporting-enabled = false
bind-address = "127.0.0.1:${rpcPort}"
[meta]
  dir = "${dir}/meta"
[data]
  dir = "${dir}/data"
  wal-dir = "${dir}/wal"
  query-log-enabled = false
[monitor]
  store-enabled = false
[http]
  bind-address = "127.0.0.1:${httpPort}"
  log-enabled = false
  auth-enabled = ${auth}
[logging]
  suppress-logo = true
  level = "warn"
`
}

const live = new Set<ChildProcess>()
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL')
})

export async function startInfluxd(options: StartInfluxdOptions = {}): Promise<InfluxdHandle> {
  const binary = options.binary ?? defaults.binary
  const startTimeoutMs = options.startTimeoutMs ?? defaults.startTimeoutMs
  const dir = await mkdtemp(join(tmpdir(), 'kampung-influxd-'))
  const port = await freePort()
  let rpcPort = await freePort()
  while (rpcPort === port) rpcPort = await freePort()
  const configPath = join(dir, 'influxdb.conf')
  await writeFile(configPath, configText(dir, port, rpcPort, options.admin !== undefined))
  const url = `http://127.0.0.1:${port}`

  let child: ChildProcess | undefined
  let exited: Promise<void> = Promise.resolve()
  let stderrTail = ''

  const launch = async (): Promise<void> => {
    stderrTail = ''
    const proc = spawn(binary, ['run', '-config', configPath], { stdio: ['ignore', 'pipe', 'pipe'] })
    child = proc
    live.add(proc)
    const keepTail = (chunk: Buffer) => {
      stderrTail = (stderrTail + chunk.toString('utf8')).slice(-defaults.stderrTailBytes)
    }
    proc.stderr?.on('data', keepTail)
    proc.stdout?.on('data', keepTail)
    let exitInfo: string | undefined
    exited = new Promise((resolve) => {
      proc.once('exit', (code, signal) => {
        exitInfo = `exited with code ${code} signal ${signal}`
        live.delete(proc)
        resolve()
      })
      proc.once('error', (err) => {
        exitInfo = `failed to spawn: ${err.message}`
        live.delete(proc)
        resolve()
      })
    })
    const deadline = Date.now() + startTimeoutMs
    for (;;) {
      if (exitInfo)
        throw new Error(`influxd ${exitInfo} before answering /ping\n--- stderr tail ---\n${stderrTail}`)
      try {
        const res = await fetch(`${url}/ping`, { signal: AbortSignal.timeout(1_000) })
        if (res.status === 204) return
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        proc.kill('SIGKILL')
        await exited
        throw new Error(
          `influxd did not answer /ping 204 on ${url} within ${startTimeoutMs} ms\n--- stderr tail ---\n${stderrTail}`,
        )
      }
      await new Promise((r) => setTimeout(r, defaults.pingIntervalMs))
    }
  }

  const kill = async (signal: NodeJS.Signals = 'SIGTERM'): Promise<void> => {
    const proc = child
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return
    proc.kill(signal)
    const timer = setTimeout(() => proc.kill('SIGKILL'), defaults.stopGraceMs)
    await exited
    clearTimeout(timer)
  }

  try {
    await launch()
    const admin = options.admin
    if (admin) {
      const q = `CREATE USER "${admin.username}" WITH PASSWORD '${admin.password}' WITH ALL PRIVILEGES`
      const res = await fetch(`${url}/query`, { method: 'POST', body: new URLSearchParams({ q }) })
      if (!res.ok) throw new Error(`influxd: creating the admin user failed: ${await res.text()}`)
    }
  } catch (err) {
    await rm(dir, { recursive: true, force: true })
    throw err
  }

  return {
    url,
    port,
    dir,
    get pid() {
      return child?.exitCode === null && child.signalCode === null ? child.pid : undefined
    },
    kill,
    async restart() {
      await kill('SIGTERM')
      await launch()
    },
    async stop() {
      await kill('SIGTERM')
      await rm(dir, { recursive: true, force: true })
    },
  }
}
