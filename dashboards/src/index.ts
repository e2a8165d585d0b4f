import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard'
import { districtOverview } from './district.ts'
import { fieldDetail } from './field.ts'
import { fleetHealth } from './fleet.ts'
import { oksigenView } from './oksigen.ts'
import { villageView } from './village.ts'

/** Every dashboard, by the file name its JSON is generated to (dashboards/generated/<name>.json). */
export const DASHBOARDS: Readonly<Record<string, () => Dashboard>> = {
  district: districtOverview,
  village: villageView,
  field: fieldDetail,
  fleet: fleetHealth,
  oksigen: oksigenView,
}

/** The JSON text of one dashboard, as committed (stable key order, trailing newline). */
export function dashboardJson(build: () => Dashboard): string {
  return `${JSON.stringify(build(), null, 2)}\n`
}

/** name → JSON text of every dashboard. */
export function renderAll(): Map<string, string> {
  return new Map(Object.entries(DASHBOARDS).map(([name, build]) => [`${name}.json`, dashboardJson(build)]))
}
