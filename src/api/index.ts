export { ApiServer, type ApiOptions } from './server.ts'
export { telemetryRouter, type TelemetryRouteOptions } from './telemetry-route.ts'
