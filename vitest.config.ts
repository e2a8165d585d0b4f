import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts', 'src/**/*.test.ts', 'broker/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Real services (influxd, mosquitto) per file: keep files on separate workers but bounded for 2 cores.
    maxWorkers: 2,
    pool: 'forks',
  },
})
