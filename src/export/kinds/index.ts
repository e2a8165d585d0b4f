import type { ExportKind } from '../types.ts'
import { alerts } from './alerts.ts'
import { decisions } from './decisions.ts'
import { readings } from './readings.ts'
import { trees } from './trees.ts'

/** Every export kind, by name: `GET /api/v1/export/<name>.csv`, `kampung export <name>`. */
export const EXPORT_KINDS: Readonly<Record<string, ExportKind>> = { readings, alerts, trees, decisions }
export const EXPORT_NAMES = Object.keys(EXPORT_KINDS) as readonly string[]
