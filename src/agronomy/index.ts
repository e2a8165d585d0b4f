export * from './crops.ts'
export * from './et0.ts'
export * from './water-balance.ts'
