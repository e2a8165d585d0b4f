export { type ReadingsRouteOptions, readingsRouter } from './readings-route.ts'
export { type ApiOptions, ApiServer } from './server.ts'
export { type TelemetryRouteOptions, telemetryRouter } from './telemetry-route.ts'
