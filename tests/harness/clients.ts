import { spawn } from 'node:child_process'

export interface PubResult {
  code: number | null
  stdout: string
  stderr: string
}

/** Run one of Eclipse's own clients (mosquitto_pub / mosquitto_sub) and collect its output. */
export function runClient(
  bin: string,
  args: string[],
  stdin?: Buffer,
  timeoutMs = 15_000,
): Promise<PubResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ['pipe', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => {
      stdout += d.toString()
    })
    child.stderr.on('data', (d) => {
      stderr += d.toString()
    })
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.once('error', reject)
    child.once('exit', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
    if (stdin) child.stdin.end(stdin)
    else child.stdin.end()
  })
}

export interface PubOptions {
  port: number
  username: string
  password: string
  clientId?: string
  topic: string
  /** Text payload, or binary (sent through stdin with -s). */
  message: string | Buffer
  qos?: 0 | 1
}

/** `mosquitto_pub` with a device's credentials. */
export function mosquittoPub(o: PubOptions): Promise<PubResult> {
  const args = ['-h', '127.0.0.1', '-p', String(o.port), '-u', o.username, '-P', o.password]
  args.push('-i', o.clientId ?? o.username, '-t', o.topic, '-q', String(o.qos ?? 1))
  if (typeof o.message === 'string') return runClient('mosquitto_pub', [...args, '-m', o.message])
  return runClient('mosquitto_pub', [...args, '-s'], o.message)
}
