export { backup, checkBackup, MANIFEST, type Manifest, type ManifestEntry, restore } from './backup.ts'
