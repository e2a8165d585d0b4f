import { type ChildProcess, spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { freePort, waitForPort } from './ports.ts'

const FAKESMSC = '/usr/lib/kannel/test/fakesmsc'

/** One MT message as Kannel's fake SMSC printed it ("Got message N: <from to type text>"). */
export interface FakeSmscMessage {
  from: string
  to: string
  type: string
  /** Decoded: `ucs-2` messages arrive URL-encoded UTF-16BE. */
  text: string
}

export interface KannelHandle {
  sendsmsUrl: string
  username: string
  password: string
  dir: string
  /** Every MT message any fakesmsc of this harness received, in order. */
  received(): FakeSmscMessage[]
  /** bearerbox + smsbox (SIGTERM: bearerbox keeps its spool; smsbox exits with it). */
  stopBoxes(): Promise<void>
  startBoxes(): Promise<void>
  stopSmsc(): Promise<void>
  startSmsc(): Promise<void>
  /**
   * An MO from the phone side: `fakesmsc -m 1 "<from> <to> text|ucs2 <body>"`. The fake SMSC
   * serves one client at a time, so the listening fakesmsc is replaced by the injector, which
   * then stays connected and receives MT like the one before.
   */
  injectMo(from: string, to: string, text: string): Promise<void>
  stop(): Promise<void>
}

function decodeFake(type: string, body: string): string {
  if (type !== 'ucs-2' && type !== 'ucs2') return body
  const bytes: number[] = []
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!
    if (c === '+') bytes.push(0x20)
    else if (c === '%') {
      bytes.push(Number.parseInt(body.slice(i + 1, i + 3), 16))
      i += 2
    } else bytes.push(c.charCodeAt(0))
  }
  return new TextDecoder('utf-16be').decode(Buffer.from(bytes))
}

/** UTF-16BE bytes, URL-encoded, as fakesmsc's `ucs2` message type wants them. */
function encodeUcs2(text: string): string {
  const buf = Buffer.from(text, 'utf16le').swap16()
  return Array.from(buf, (b) => `%${b.toString(16).padStart(2, '0')}`).join('')
}

async function stopChild(child: ChildProcess | undefined, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise((r) => child.once('exit', r))
  child.kill(signal)
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
  await exited
  clearTimeout(timer)
}

/**
 * A real Kannel (bearerbox + smsbox, Debian `kannel`) on free ports in a temp dir, with the fake
 * SMSC of `kannel-extras` as its SMSC. `moUrl` is where smsbox sends MO messages (our route);
 * `smsService`, when given, is the whole `group = sms-service` instead (as `kannelMoService()` of
 * src/notify writes it, with the callback token as HTTP Basic userinfo).
 */
export async function startKannel(opts: { moUrl: string; smsService?: string }): Promise<KannelHandle> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kampung-kannel-'))
  mkdirSync(path.join(dir, 'spool'))
  const [adminPort, smsboxPort, smscPort, sendsmsPort] = [
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
  ]
  const username = 'kampung'
  const password = 'test-secret'
  const conf = path.join(dir, 'kannel.conf')
  writeFileSync(
    conf,
    `group = core
admin-port = ${adminPort}
admin-password = admin-secret
smsbox-port = ${smsboxPort}
box-allow-ip = "127.0.0.1"
log-file = "${dir}/bearerbox.log"
access-log = "${dir}/access.log"
store-type = spool
store-location = "${dir}/spool"
sms-resend-freq = 1

group = smsc
smsc = fake
smsc-id = fake1
port = ${smscPort}
connect-allow-ip = "127.0.0.1"

group = smsbox
bearerbox-host = 127.0.0.1
sendsms-port = ${sendsmsPort}
log-file = "${dir}/smsbox.log"
http-request-retry = 5
http-queue-delay = 1

group = sendsms-user
username = ${username}
password = ${password}

${
  opts.smsService ??
  `group = sms-service
keyword = default
catch-all = true
get-url = "${opts.moUrl}?from=%p&to=%P&text=%a&coding=%c&charset=%C&smsc=%i"
max-messages = 0
`
}`,
  )
  let bearerbox: ChildProcess | undefined
  let smsbox: ChildProcess | undefined
  let smsc: ChildProcess | undefined
  const messages: FakeSmscMessage[] = []

  const watchSmsc = (child: ChildProcess) => {
    let buf = ''
    const onData = (d: Buffer) => {
      buf += d.toString('latin1')
      let nl = buf.indexOf('\n')
      while (nl >= 0) {
        const line = buf.slice(0, nl)
        buf = buf.slice(nl + 1)
        const m = /Got message \d+: <(\S+) (\S+) (\S+) (.*)>\s*$/.exec(line)
        if (m) messages.push({ from: m[1]!, to: m[2]!, type: m[3]!, text: decodeFake(m[3]!, m[4]!) })
        nl = buf.indexOf('\n')
      }
    }
    child.stdout?.on('data', onData)
    child.stderr?.on('data', onData)
  }

  const spawnSmsc = async (extra: string[]) => {
    // stdin stays open: without a message argument fakesmsc reads stdin and exits at its end.
    const child = spawn(FAKESMSC, ['-H', '127.0.0.1', '-r', String(smscPort), '-i', '0.01', ...extra], {
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    watchSmsc(child)
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve)
      child.once('error', reject)
    })
    return child
  }

  const handle: KannelHandle = {
    sendsmsUrl: `http://127.0.0.1:${sendsmsPort}/cgi-bin/sendsms`,
    username,
    password,
    dir,
    received: () => [...messages],
    async startBoxes() {
      bearerbox = spawn('bearerbox', [conf], { stdio: 'ignore' })
      // smsbox exits at once if bearerbox's box port is not open yet.
      await waitForPort(smsboxPort, 20_000)
      smsbox = spawn('smsbox', [conf], { stdio: 'ignore' })
      await waitForPort(sendsmsPort, 20_000)
    },
    async stopBoxes() {
      // The fake SMSC is bearerbox's client and does not reconnect: it goes with the boxes, and
      // startSmsc() after startBoxes() brings a fresh one (as a real SMSC link would reconnect).
      // Waiting for it here also avoids a race where startSmsc() saw the old one not yet exited.
      await stopChild(smsc)
      await stopChild(smsbox)
      await stopChild(bearerbox)
    },
    async startSmsc() {
      if (smsc && smsc.exitCode === null && smsc.signalCode === null) return
      smsc = await spawnSmsc(['-m', '0'])
    },
    async stopSmsc() {
      await stopChild(smsc)
    },
    async injectMo(from, to, text) {
      await stopChild(smsc)
      const gsm = /^[\x20-\x7e]*$/.test(text)
      const line = gsm ? `${from} ${to} text ${text}` : `${from} ${to} ucs2 ${encodeUcs2(text)}`
      smsc = await spawnSmsc(['-m', '1', line])
    },
    async stop() {
      await stopChild(smsc)
      await stopChild(smsbox)
      await stopChild(bearerbox)
      rmSync(dir, { recursive: true, force: true })
    },
  }
  try {
    await handle.startBoxes()
    await handle.startSmsc()
  } catch (err) {
    const logs = ['bearerbox.log', 'smsbox.log']
      .map((f) => {
        try {
          return readFileSync(path.join(dir, f), 'utf8').slice(-2000)
        } catch {
          return ''
        }
      })
      .join('\n')
    await handle.stop()
    throw new Error(`Kannel did not start: ${(err as Error).message}\n${logs}`)
  }
  return handle
}

/** The service's `notify.kannel` section for this Kannel, its callbacks at `callbackBaseUrl` with `callbackToken`. */
export function kannelNotify(kannel: KannelHandle, callbackBaseUrl: string, callbackToken: string) {
  return {
    sendsmsUrl: kannel.sendsmsUrl,
    username: kannel.username,
    password: kannel.password,
    from: 'KAMPUNG',
    callbackBaseUrl,
    callbackToken,
  }
}
