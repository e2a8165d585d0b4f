export { type ApiOptions, ApiServer } from './server.ts'
export { type TelemetryRouteOptions, telemetryRouter } from './telemetry-route.ts'
export { readingsRouter, type ReadingsRouteOptions } from './readings-route.ts'
