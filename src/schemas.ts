import { alertsTables } from './alerts/index.ts'
import { auditTables } from './audit/index.ts'
import { commandsTables, deviceConfigTables } from './commands/index.ts'
import { consoleTables } from './console/index.ts'
import { lorawanTables } from './lorawan/index.ts'
import { oksigenTables } from './oksigen/index.ts'
import type { CapabilitySchema } from './registry/index.ts'

/**
 * Every capability that keeps its tables in the registry's SQLite file, in migration order (each
 * after the capabilities its tables reference; the registry's own run first). The registry imports
 * none of them: the composition happens here, for the app, the CLI, tests and benchmarks alike.
 */
export const SCHEMAS: readonly CapabilitySchema[] = [
  oksigenTables,
  consoleTables,
  alertsTables,
  auditTables,
  commandsTables,
  lorawanTables,
  deviceConfigTables,
]
