export {
  type DeviceAuthLimitsOptions,
  defaultDeviceAuthLimits,
  type FailureBudget,
} from './auth-limits.ts'
export { type CapabilitySchema, type MigrationStep, migrate, schemaVersions } from './migrate.ts'
export { type DeviceAuthResult, defaultRegistryOptions, Registry, type RegistryOptions } from './registry.ts'
export { registryTables } from './schema.ts'
export { hashSecret, verifyHash } from './secrets.ts'
export { statement } from './statement.ts'
export * from './types.ts'
export { checkChannels, checkId, ID_RULE } from './validate.ts'
