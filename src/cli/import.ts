import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs'
import path from 'node:path'
import { Argument, Command } from 'commander'
import type { Directory } from '../alerts/index.ts'
import { AuditLog, cliActor } from '../audit/index.ts'
import type { TreeRepo } from '../oksigen/index.ts'
import { IMPORT_KINDS, type ImportKind, importCsv } from '../provision/index.ts'
import type { Registry } from '../registry/index.ts'

export interface ImportCommandDeps {
  getRegistry: () => Promise<Registry>
  directoryOf: (registry: Registry) => Directory
  treesOf: (registry: Registry) => Promise<TreeRepo>
}

/**
 * `kampung import devices|fields|farmers|trees FILE.csv`: all rows or none, every problem with its
 * line and column. New device secrets go to a file created for this import only (0600, never
 * overwritten), not to the terminal.
 */
export function importCommand(deps: ImportCommandDeps): Command {
  return new Command('import')
    .description('register many devices, fields, farmers or trees from a CSV file, all or none')
    .addArgument(new Argument('<kind>', 'what the file holds').choices(IMPORT_KINDS))
    .argument('<file>', 'CSV with a header row (columns: see README "Bulk provisioning")')
    .option(
      '--secrets <file>',
      'devices: where the new secrets go (default: <file>.secrets.csv, must not exist)',
    )
    .action(async (kind: ImportKind, file: string, o: { secrets?: string }) => {
      const text = readFileSync(file, 'utf8')
      const secretsFile =
        kind === 'devices' ? (o.secrets ?? `${file.replace(/\.csv$/i, '')}.secrets.csv`) : undefined
      // Created before anything is imported: if it exists, nothing is imported and no secret is lost.
      const fd = secretsFile ? openSync(secretsFile, 'wx', 0o600) : undefined
      const registry = await deps.getRegistry()
      try {
        const result = await importCsv(
          kind,
          text,
          {
            registry,
            directory: kind === 'fields' || kind === 'farmers' ? deps.directoryOf(registry) : undefined,
            trees: kind === 'trees' ? await deps.treesOf(registry) : undefined,
          },
          path.basename(file),
        )
        new AuditLog(registry).record(cliActor(), 'import', kind, {
          imported: result.imported,
          file: path.basename(file),
        })
        if (fd !== undefined && result.secrets) {
          writeSync(fd, `id,secret\n${result.secrets.map((s) => `${s.id},${s.secret}`).join('\n')}\n`)
          closeSync(fd)
          console.log(
            `${result.imported} ${kind} imported; their secrets are in ${secretsFile} (readable by you only; shown nowhere else)`,
          )
        } else console.log(`${result.imported} ${kind} imported`)
      } catch (err) {
        if (fd !== undefined) {
          closeSync(fd)
          rmSync(secretsFile!, { force: true })
        }
        throw err
      } finally {
        await registry.stop()
      }
    })
}
