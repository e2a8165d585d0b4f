import path from 'node:path'
import { describe, expect, it } from 'vitest'
import {
  capabilityOf,
  checkImports,
  collectImports,
  folderCycles,
  type ImportEdge,
  moduleSpecifiers,
} from './import-graph.ts'

const ROOT = path.resolve(import.meta.dirname, '../..')

const edge = (from: string, to: string): ImportEdge => ({ from, to, specifier: to })
const rules = (edges: ImportEdge[]) => checkImports(edges).map((v) => v.rule)

describe('import structure of the sources', () => {
  const { files, edges } = collectImports(ROOT)

  it('reads the whole tree (static, type-only, re-exports and dynamic imports)', () => {
    expect(files.length).toBeGreaterThan(150)
    expect(files).toContain('broker/broker.ts')
    expect(files).toContain('dashboards/src/generate.ts')
    const pairs = new Set(edges.map((e) => `${e.from} ${e.to}`))
    expect(pairs).toContain('src/app.ts src/registry/index.ts')
    expect(pairs).toContain('src/registry/types.ts src/telemetry/index.ts') // `import type`
    expect(pairs).toContain('src/oksigen/index.ts src/oksigen/certificate/index.ts') // `export * from`
    expect(edges.some((e) => e.from === 'src/cli/main.ts' && e.specifier.startsWith('./sim'))).toBe(true) // import()
  })

  it('keeps every rule: no folder cycle, telemetry alone, no HTTP in alerts/oksigen, store below its consumers, index.ts only', () => {
    const violations = checkImports(edges).map((v) => `${v.rule}: ${v.message}`)
    expect(violations).toEqual([])
  })
})

describe('the checker', () => {
  it('finds a folder cycle and names the imports that make it', () => {
    const graph = [
      edge('src/alerts/engine.ts', 'src/notify/index.ts'),
      edge('src/notify/outbox.ts', 'src/console/index.ts'),
      edge('src/console/users.ts', 'src/alerts/index.ts'),
      edge('src/store/types.ts', 'src/telemetry/index.ts'),
    ]
    expect(folderCycles(graph)).toEqual([['src/alerts', 'src/notify', 'src/console', 'src/alerts']])
    const [cycle] = checkImports(graph)
    expect(cycle).toEqual({
      rule: 'folder-cycle',
      message:
        'src/alerts -> src/notify -> src/console -> src/alerts (src/alerts/engine.ts -> src/notify/index.ts; src/notify/outbox.ts -> src/console/index.ts; src/console/users.ts -> src/alerts/index.ts)',
    })
    expect(rules(graph)).toEqual(['folder-cycle'])
    // Two capabilities importing each other through their index files is a cycle too.
    expect(
      rules([edge('broker/acl.ts', 'src/registry/index.ts'), edge('src/registry/x.ts', 'broker/index.ts')]),
    ).toEqual(['folder-cycle'])
  })

  it('finds an import that bypasses index.ts, at any depth', () => {
    expect(checkImports([edge('src/alerts/engine.ts', 'src/telemetry/reading.ts')])).toEqual([
      {
        rule: 'bypasses-index',
        message:
          "src/alerts/engine.ts imports 'src/telemetry/reading.ts': import src/telemetry's index.ts instead",
      },
    ])
    expect(rules([edge('src/api/server.ts', 'src/oksigen/certificate/index.ts')])).toEqual(['bypasses-index'])
    expect(rules([edge('firmware-sim/node/firmware.ts', 'gateway/gateway.ts')])).toEqual(['bypasses-index'])
    expect(rules([edge('src/config.ts', 'src/alerts/config.ts')])).toEqual(['bypasses-index']) // root files too
    // Through the index, inside a capability, or a shared root file: fine.
    expect(
      rules([
        edge('src/alerts/engine.ts', 'src/telemetry/index.ts'),
        edge('src/alerts/engine.ts', 'src/alerts/sql.ts'),
        edge('src/alerts/engine.ts', 'src/errors.ts'),
        edge('firmware-sim/fleet.ts', 'src/log.ts'),
        edge('dashboards/src/oksigen.ts', 'src/store/index.ts'),
        edge('src/cli/main.ts', 'dashboards/src/index.ts'),
      ]),
    ).toEqual([])
  })

  it('keeps telemetry alone, HTTP out of alerts and oksigen, and the store below its consumers', () => {
    expect(rules([edge('src/telemetry/index.ts', 'src/registry/index.ts')])).toEqual(['telemetry-imports'])
    expect(rules([edge('src/telemetry/tts.ts', 'src/log.ts')])).toEqual([])
    expect(rules([edge('src/alerts/engine.ts', 'src/api/index.ts')])).toEqual(['api-import'])
    expect(rules([edge('src/oksigen/verifier.ts', 'src/api/auth.ts')])).toEqual([
      'api-import',
      'bypasses-index',
    ])
    for (const consumer of ['ingest', 'alerts', 'oksigen', 'api', 'cli', 'console', 'notify'])
      expect(rules([edge('src/store/influx/influx-store.ts', `src/${consumer}/index.ts`)])).toEqual([
        'store-imports-consumer',
      ])
    expect(rules([edge('src/store/types.ts', 'src/telemetry/index.ts')])).toEqual([])
    // A runnable example is an entry point: its imports are not its folder's (index.ts still applies).
    expect(rules([edge('src/oksigen/certificate/example.ts', 'src/api/index.ts')])).toEqual([])
    expect(rules([edge('src/oksigen/certificate/example.ts', 'src/api/verify-route.ts')])).toEqual([
      'bypasses-index',
    ])
  })

  it('reads specifiers with the TypeScript parser, not text matching', () => {
    const text = `
      import a from './a.ts'
      import type { B } from '../b/index.ts'
      import './side-effect.ts'
      export * from './c.ts'
      export { d } from './d.ts'
      import e = require('./e.ts')
      const f = await import('./f.ts')
      type G = import('./g.ts').G
      import express from 'express'
      // import h from './h.ts'
      const s = "import i from './i.ts'"
      const t = \`export * from './j.ts'\`
    `
    expect(moduleSpecifiers('x.ts', text)).toEqual([
      './a.ts',
      '../b/index.ts',
      './side-effect.ts',
      './c.ts',
      './d.ts',
      './e.ts',
      './f.ts',
      './g.ts',
    ])
  })

  it('knows the capabilities', () => {
    expect(capabilityOf('src/store/influx/influx-store.ts')).toBe('src/store')
    expect(capabilityOf('src/config.ts')).toBeUndefined()
    expect(capabilityOf('firmware-sim/node/firmware.ts')).toBe('firmware-sim')
    expect(capabilityOf('tests/registry/migrate.test.ts')).toBeUndefined()
  })
})
