import { fileURLToPath } from 'node:url'

/** The console's pages, scripts and styles; src/api/console-route.ts serves them at /console/. */
export const CONSOLE_PUBLIC_DIR = fileURLToPath(new URL('./public', import.meta.url))
export { consoleTables } from './schema.ts'
export { type Session, type SessionOptions, SessionStore } from './sessions.ts'
export {
  CONSOLE_LANGUAGES,
  type ConsoleLanguage,
  type LockoutPolicy,
  type LoginResult,
  MIN_PASSWORD_LENGTH,
  USER_ROLES,
  type User,
  type UserRole,
  UserStore,
} from './users.ts'
