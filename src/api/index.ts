export { type AlertsRouteOptions, alertsRouter } from './alerts-route.ts'
export { type AuditRouteOptions, auditActor, auditRouter } from './audit-route.ts'
export {
  type ConsoleOptions,
  type ConsoleRouteOptions,
  consoleRouter,
  SESSION_COOKIE,
} from './console-route.ts'
export { type ExportRouteOptions, exportRouter } from './export-route.ts'
export { type ReadingsRouteOptions, readingsRouter } from './readings-route.ts'
export { type ApiOptions, ApiServer } from './server.ts'
export { smsRouter } from './sms-route.ts'
export { type TelemetryRouteOptions, telemetryRouter } from './telemetry-route.ts'
export { type VerifyRouteOptions, verifyRouter } from './verify-route.ts'
