import { type ChildProcess, spawn } from 'node:child_process'

export interface KampungProcess {
  child: ChildProcess
  output(): string
  /** Resolves when a line of output matches. */
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<void>
  kill(signal?: NodeJS.Signals): Promise<number | null>
}

/** Run `kampung <args>` (src/cli/main.ts through tsx) as a separate process, as an operator would. */
export function spawnKampung(
  args: string[],
  env: Record<string, string>,
  nodeArgs: string[] = [],
): KampungProcess {
  // The same Node flags as `npm start` (package.json): a larger young generation halves GC time
  // under ingest load (bench/results/ingest.md); an old generation capped at 768 MB makes V8
  // collect before garbage takes the RSS of a 10 000-node district past 1 GiB (bench/README.md).
  const child = spawn(
    process.execPath,
    [
      '--max-semi-space-size=64',
      '--max-old-space-size=768',
      ...nodeArgs,
      '--import',
      'tsx',
      'src/cli/main.ts',
      ...args,
    ],
    {
      env: { ...process.env, KAMPUNG_LOG_LEVEL: 'info', VITEST: '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
  let out = ''
  const listeners = new Set<() => void>()
  const onData = (d: Buffer) => {
    out += d.toString()
    for (const l of listeners) l()
  }
  child.stdout!.on('data', onData)
  child.stderr!.on('data', onData)
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  return {
    child,
    output: () => out,
    waitForOutput(pattern, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (pattern.test(out)) {
            listeners.delete(check)
            clearTimeout(timer)
            resolve()
          }
        }
        const timer = setTimeout(() => {
          listeners.delete(check)
          reject(
            new Error(`no output matching ${pattern} within ${timeoutMs} ms; output:\n${out.slice(-3000)}`),
          )
        }, timeoutMs)
        listeners.add(check)
        check()
        void exited.then(() => {
          if (listeners.has(check)) {
            listeners.delete(check)
            clearTimeout(timer)
            reject(new Error(`process exited before printing ${pattern}; output:\n${out.slice(-3000)}`))
          }
        })
      })
    },
    async kill(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      return exited
    },
  }
}

/** Environment for `kampung up` on free-port-style fixed ports, a data dir and (optionally) InfluxDB. */
export function serviceEnv(o: {
  dataDir: string
  mqttPort: number
  apiPort: number
  influxUrl?: string
}): Record<string, string> {
  return {
    KAMPUNG_DATA_DIR: o.dataDir,
    ...(o.influxUrl ? { KAMPUNG_INFLUX_URL: o.influxUrl } : {}),
    KAMPUNG_MQTT_HOST: '127.0.0.1',
    KAMPUNG_MQTT_PORT: String(o.mqttPort),
    KAMPUNG_API_HOST: '127.0.0.1',
    KAMPUNG_API_PORT: String(o.apiPort),
  }
}

/** `kampung …` run to its end as a real process on data dir `dir`, `stdin` piped in (a password, as a script would). */
export function runKampung(
  dir: string,
  args: string[],
  stdin = '',
): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
      env: { ...process.env, KAMPUNG_DATA_DIR: dir, KAMPUNG_LOG_LEVEL: 'warn' },
    })
    let out = ''
    let err = ''
    child.stdout.on('data', (d) => {
      out += d
    })
    child.stderr.on('data', (d) => {
      err += d
    })
    child.on('error', reject)
    child.on('close', (code) => resolve({ code: code ?? -1, out, err }))
    child.stdin.end(stdin)
  })
}

/**
 * Runs `body` (ES module code; `FILE` is the path given) in `n` node processes that all begin it at
 * the same moment, once loaded (a race between processes needs the same few ms). Resolves with each
 * process's exit code and stderr.
 */
export async function runAtOnce(
  n: number,
  imports: string,
  body: string,
  file: string,
): Promise<Array<{ code: number | null; err: string }>> {
  const at = Date.now() + 8_000
  const script = `${imports};const FILE = process.argv[1];while (Date.now() < ${at}) {};${body}`
  return Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<{ code: number | null; err: string }>((resolve) => {
          const child = spawn(process.execPath, [
            '--import',
            'tsx',
            '--input-type=module',
            '-e',
            script,
            file,
          ])
          let err = ''
          child.stderr.on('data', (c) => {
            err += c
          })
          child.on('close', (code) => resolve({ code, err }))
        }),
    ),
  )
}
