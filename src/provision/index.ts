export {
  COLUMNS,
  IMPORT_KINDS,
  type ImportDeps,
  ImportError,
  type ImportKind,
  type ImportResult,
  importCsv,
} from './import.ts'
