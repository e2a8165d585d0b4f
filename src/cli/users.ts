import { createInterface } from 'node:readline'
import { Command, Option } from 'commander'
import { AuditLog, cliActor } from '../audit/index.ts'
import {
  CONSOLE_LANGUAGES,
  MIN_PASSWORD_LENGTH,
  USER_ROLES,
  type UserRole,
  UserStore,
} from '../console/index.ts'
import { KampungError } from '../errors.ts'
import type { Registry } from '../registry/index.ts'
import { table } from './devices.ts'

/** Where the commands read passwords and write; tests pass their own. */
export interface UsersIo {
  out: (line: string) => void
  err: (line: string) => void
  /** The new password: typed twice at a terminal (not echoed), or the first line of piped stdin. */
  password: () => Promise<string>
}

async function askHidden(question: string): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: true })
  // readline echoes what is typed through _writeToOutput: print the question, then nothing
  const out = rl as unknown as { _writeToOutput: (s: string) => void; output: NodeJS.WritableStream }
  let asked = false
  out._writeToOutput = (s: string) => {
    if (!asked) out.output.write(s)
  }
  return new Promise((resolve) => {
    rl.question(question, (answer) => {
      rl.close()
      process.stdout.write('\n')
      resolve(answer)
    })
    asked = true
  })
}

async function readPassword(): Promise<string> {
  if (process.stdin.isTTY) {
    const first = await askHidden(`password (at least ${MIN_PASSWORD_LENGTH} characters): `)
    const again = await askHidden('again: ')
    if (first !== again)
      throw new KampungError('password_mismatch', 'the two passwords differ', { retryable: false })
    return first
  }
  let text = ''
  for await (const chunk of process.stdin) text += chunk
  return text.split(/\r?\n/)[0] ?? ''
}

const consoleIo: UsersIo = {
  out: (line) => console.log(line),
  err: (line) => console.error(line),
  password: readPassword,
}

/** `users add|list|passwd`: the officer console's accounts, straight in the registry database. */
export function usersCommand(getRegistry: () => Promise<Registry>, io: UsersIo = consoleIo): Command {
  const users = new Command('users').description(
    'officer console accounts (officer | admin); passwords typed at the terminal or piped on stdin',
  )

  let audit: AuditLog | undefined // the running command's, for `record`
  const record = (action: string, target: string, detail?: Record<string, unknown>) =>
    audit!.record(cliActor(), action, target, detail)

  const run =
    <A extends unknown[]>(fn: (store: UserStore, ...args: A) => Promise<void> | void) =>
    async (...args: A) => {
      let registry: Registry | undefined
      try {
        registry = await getRegistry()
        audit = new AuditLog(registry)
        await fn(new UserStore(registry), ...args)
      } catch (err) {
        if (!(err instanceof KampungError)) throw err
        io.err(`error: ${err.message}`)
        process.exitCode = 1
      } finally {
        await registry?.stop()
      }
    }

  users
    .command('add <id>')
    .description('create an account; the first one should be an admin (it manages devices)')
    .addOption(new Option('--role <role>', 'officer or admin').choices(USER_ROLES).default('officer'))
    .addOption(
      new Option('--language <lang>', "the console's language (default: console.defaultLanguage)").choices(
        CONSOLE_LANGUAGES,
      ),
    )
    .option('--villages <a,b>', "an officer's villages, comma-separated (none: the officer sees nothing)")
    .action(
      run(async (store, id: string, o: { role: UserRole; language?: string; villages?: string }) => {
        const user = await store.add({
          id,
          role: o.role,
          password: await io.password(),
          language: o.language,
          villages: villageList(o.villages ?? ''),
        })
        record('user.add', user.id, { role: user.role, language: o.language, villages: user.villages })
        io.out(`added ${user.role} ${user.id}${scopeText(user.role, user.villages)}; log in at /console/`)
      }),
    )

  users
    .command('villages <id> [villages]')
    .description(
      "set an officer's villages, comma-separated, replacing the old ones (empty: sees nothing); admins see all",
    )
    .action(
      run((store, id: string, villages: string | undefined) => {
        const set = store.setVillages(id, villageList(villages ?? ''))
        record('user.villages', id, { villages: set })
        io.out(`${id}${scopeText(store.get(id)!.role, set)}`)
      }),
    )

  users
    .command('language <id> <lang>')
    .description(
      `the console's language of a user: ${CONSOLE_LANGUAGES.join(' | ')} (users choose it in the console too)`,
    )
    .action(
      run((store, id: string, lang: string) => {
        store.setLanguage(id, lang)
        record('user.language', id, { language: lang })
        io.out(`${id}: console in ${lang}`)
      }),
    )

  users
    .command('list')
    .description('list accounts')
    .option('--json', 'print JSON')
    .action(
      run((store, o: { json?: boolean }) => {
        const list = store.list()
        if (o.json) return io.out(JSON.stringify(list, null, 2))
        const now = Date.now()
        const rows = list.map((u) => [
          u.id,
          u.role,
          u.role === 'admin' ? '(all)' : u.villages.join(',') || '(none)',
          new Date(u.createdAtMs).toISOString(),
          u.lockedUntilMs > now ? `locked until ${new Date(u.lockedUntilMs).toISOString()}` : '',
        ])
        for (const line of table(['ID', 'ROLE', 'VILLAGES', 'CREATED', 'STATE'], rows)) io.out(line)
        io.out(`${list.length} user(s)`)
      }),
    )

  users
    .command('passwd <id>')
    .description('set a new password: ends the account lockout and every session of the user')
    .action(
      run(async (store, id: string) => {
        await store.setPassword(id, await io.password())
        record('user.password', id)
        io.out(`new password for ${id}; its sessions are ended`)
      }),
    )

  return users
}

const villageList = (text: string): string[] =>
  text
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v !== '')

function scopeText(role: UserRole, villages: readonly string[]): string {
  if (role === 'admin') return ' (admin: every village)'
  return villages.length > 0
    ? `: villages ${villages.join(', ')}`
    : ': no villages (sees nothing until given some)'
}
