import { utc, wib } from '../csv.ts'
import type { ExportKind } from '../types.ts'

/**
 * Every recorded decision on a tree (officers' verify/reject/reopen and the automatic ones), tree
 * by tree, oldest first within a tree; `from`/`to` select by decision time.
 */
export const decisions: ExportKind = {
  name: 'decisions',
  description: 'decisions on trees: who, when, from which state to which, why, whether an override',
  params: ['village', 'from', 'to'],
  columns: ['tree', 'village', 'time_utc', 'time_wib', 'by', 'from_state', 'to_state', 'override', 'reason'],
  available: (s) => s.oksigen !== undefined,
  async *rows(sources, f) {
    const { repo } = sources.oksigen!
    for (const tree of repo.listTrees({ village: f.village })) {
      for (const d of repo.decisions(tree.id)) {
        if (f.fromMs !== undefined && d.atMs < f.fromMs) continue
        if (f.toMs !== undefined && d.atMs >= f.toMs) continue
        yield [
          tree.id,
          tree.village,
          utc(d.atMs),
          wib(d.atMs),
          d.by,
          d.fromState,
          d.toState,
          d.data.override === true,
          d.reason,
        ]
      }
      await new Promise((resolve) => setImmediate(resolve))
    }
  },
}
