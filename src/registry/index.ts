export { defaultRegistryOptions, Registry, type RegistryOptions } from './registry.ts'
export * from './types.ts'
export { checkChannels, checkId, ID_RULE } from './validate.ts'
