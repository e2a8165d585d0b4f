import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { ConfigError, loadConfig, parseConfig, redactSecrets } from '../../src/config.ts'

describe('config', () => {
  it('the commented example holds exactly the defaults', () => {
    const example = parse(readFileSync('config/kampung.example.yaml', 'utf8'))
    expect(parseConfig(example)).toEqual(parseConfig({}))
  })

  it('the example names the write path and alert batching figures, with their defaults', () => {
    // The test above passes when a key is missing from the example: these must be there.
    const example = parse(readFileSync('config/kampung.example.yaml', 'utf8'))
    const defaults = parseConfig({})
    const figures = {
      'ingest.batchMaxReadings': [example.ingest.batchMaxReadings, defaults.ingest.batchMaxReadings],
      'ingest.batchMaxWaitMs': [example.ingest.batchMaxWaitMs, defaults.ingest.batchMaxWaitMs],
      'ingest.maxWritesInFlight': [example.ingest.maxWritesInFlight, defaults.ingest.maxWritesInFlight],
      'ingest.maxPendingReadings': [example.ingest.maxPendingReadings, defaults.ingest.maxPendingReadings],
      'alerts.batchMaxWaitMs': [example.alerts.batchMaxWaitMs, defaults.alerts.batchMaxWaitMs],
      'alerts.batchMaxReadings': [example.alerts.batchMaxReadings, defaults.alerts.batchMaxReadings],
    }
    for (const [key, [inExample, byDefault]] of Object.entries(figures)) {
      expect(inExample, key).toBeDefined()
      expect(inExample, key).toBe(byDefault)
    }
    expect(defaults.alerts.batchMaxWaitMs).toBe(25)
  })

  it('refuses a maxWritesInFlight it cannot honour, saying what it allows', () => {
    expect(parseConfig({ ingest: { maxWritesInFlight: 8 } }).ingest.maxWritesInFlight).toBe(8)
    expect(() => parseConfig({ ingest: { maxWritesInFlight: 9 } })).toThrow(/ingest\.maxWritesInFlight/)
    expect(() => parseConfig({ ingest: { maxWritesInFlight: 0 } })).toThrow(/ingest\.maxWritesInFlight/)
  })

  it('reports every error at once with its path, unknown keys included', () => {
    let error: unknown
    try {
      parseConfig({ broker: { port: 'x', bogus: 1 }, store: { kind: 'mongo' }, extra: true })
    } catch (err) {
      error = err
    }
    expect(error).toBeInstanceOf(ConfigError)
    const problems = (error as ConfigError).problems
    expect(problems).toHaveLength(4)
    expect(problems.some((p) => p.startsWith('broker.port:'))).toBe(true)
    expect(problems.some((p) => p.startsWith('broker:') && p.includes('bogus'))).toBe(true)
    expect(problems.some((p) => p.startsWith('store.kind:'))).toBe(true)
    expect(problems.some((p) => p.includes('extra'))).toBe(true)
  })

  it('environment overrides the file; an InfluxDB URL selects the InfluxDB store', () => {
    const cfg = loadConfig({ env: { KAMPUNG_INFLUX_URL: 'http://10.0.0.5:8086', KAMPUNG_MQTT_PORT: '1884' } })
    expect(cfg.store.kind).toBe('influx')
    expect(cfg.store.influx.url).toBe('http://10.0.0.5:8086')
    expect(cfg.broker.port).toBe(1884)
  })

  it('malformed environment values are named', () => {
    expect(() => loadConfig({ env: { KAMPUNG_API_PORT: 'eighty' } })).toThrow(
      /KAMPUNG_API_PORT: expected a number/,
    )
  })

  it('redacts credentials for printing: secret-named keys and URL passwords, nothing else', () => {
    const config = parseConfig({
      ingest: { mode: 'mqtt', mqtt: { url: 'mqtts://worker:p%40ss@broker.example:8883' } },
      store: { kind: 'influx', influx: { url: 'http://admin:hunter2@influx:8086', username: 'admin' } },
    })
    const redacted = redactSecrets(config)
    expect(redacted.ingest.mqtt.url).toBe('mqtts://worker:***@broker.example:8883')
    expect(redacted.store.influx.url).toBe('http://admin:***@influx:8086/')
    expect(redacted.store.influx.username).toBe('admin')
    // unset credentials stay unset; the config itself is untouched
    expect(redacted.store.influx.password).toBeUndefined()
    expect(config.store.influx.url).toBe('http://admin:hunter2@influx:8086')
    expect({ ...redacted, ingest: config.ingest, store: config.store }).toEqual(config)
  })
})
