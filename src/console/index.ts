export { type ConsoleOptions, type ConsoleRouteOptions, consoleRouter, SESSION_COOKIE } from './route.ts'
export { consoleSchema } from './schema.ts'
export { type Session, type SessionOptions, SessionStore } from './sessions.ts'
export {
  type LockoutPolicy,
  type LoginResult,
  MIN_PASSWORD_LENGTH,
  USER_ROLES,
  type User,
  type UserRole,
  UserStore,
} from './users.ts'
