import { existsSync, readFileSync } from 'node:fs'
import { isIP } from 'node:net'
import path from 'node:path'
import { parse as parseYaml } from 'yaml'
import { z } from 'zod'
import { alertsSchema } from './alerts/index.ts'
import { lorawanSchema } from './lorawan/index.ts'
import { notifySchema } from './notify/index.ts'
import { policySchema } from './oksigen/index.ts'

/**
 * The one configuration schema. Every key has a default, so `npm start` runs with no file at all
 * (embedded SQLite store, broker on 1883, API on 8080, data in ./data). Unknown keys are errors,
 * and every error is reported at once with its path. config/kampung.example.yaml shows the
 * defaults, commented.
 */
const port = z.number().int().min(0).max(65535)

const tlsSchema = z
  .object({
    port: port.default(8883),
    keyPath: z.string().min(1),
    certPath: z.string().min(1),
  })
  .strict()

const brokerSchema = z
  .object({
    enabled: z.boolean().default(true),
    /** Loopback unless opened: 0.0.0.0 (or KAMPUNG_MQTT_HOST=0.0.0.0) for village gateways and nodes on the LAN. */
    host: z.string().default('127.0.0.1'),
    port: port.default(1883),
    maxPayloadBytes: z
      .number()
      .int()
      .min(256)
      .max(16 * 1024 * 1024)
      .default(64 * 1024),
    /** A socket must complete its CONNECT (and a TLS handshake) within this time. */
    connectTimeoutMs: z.number().int().min(1000).max(300_000).default(10_000),
    /** Sockets held at once; 2 048 open files (half, under a small `ulimit -n`) stay for the rest. */
    maxConnections: z.number().int().min(1).max(1_000_000).default(15_000),
    /** Connections the kernel queues until accepted; 0: maxConnections (capped by net.core.somaxconn). */
    listenBacklog: z.number().int().min(0).max(1_000_000).default(0),
    /** Sockets held at once from one remote address (a gateway holds one per node, plus one). */
    maxConnectionsPerAddress: z.number().int().min(1).max(1_000_000).default(1_000),
    /** Addresses without the per-address cap: the host itself (a TLS proxy in front, workers). */
    unlimitedAddresses: z.array(z.string().min(1)).default(['127.0.0.1', '::1', '::ffff:127.0.0.1']),
    /** Largest CONNECT packet: what an unauthenticated socket can make the broker buffer. */
    maxConnectBytes: z
      .number()
      .int()
      .min(256)
      .max(65_536)
      .default(4 * 1024),
    /** A started packet must be complete within this time, whatever the client's keepalive. */
    partialPacketTimeoutMs: z.number().int().min(1000).max(600_000).default(30_000),
    tls: tlsSchema.optional(),
    /**
     * Several broker instances behind one address share subscriptions, retained messages and
     * offline queues through Redis (broker/cluster.ts). Ingest then runs as MQTT clients.
     */
    cluster: z
      .object({
        redisUrl: z.string().regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL'),
        maxSessionDelivery: z.number().int().min(1).max(10_000_000).default(100_000),
      })
      .strict()
      .optional(),
  })
  .strict()

const ingestSchema = z
  .object({
    /** in-process: attached to the embedded broker (no second socket). mqtt: an MQTT client of any broker. */
    mode: z.enum(['in-process', 'mqtt']).default('in-process'),
    mqtt: z
      .object({
        url: z.string().default('mqtt://127.0.0.1:1883'),
        username: z.string().optional(),
        password: z.string().optional(),
        clientId: z.string().default('ingest-1'),
        /** With MQTT 5 shared subscriptions several workers split the load: `$share/<group>/...`. */
        sharedGroup: z.string().optional(),
        protocolVersion: z.union([z.literal(4), z.literal(5)]).default(5),
        /** Messages taken but not yet durable; beyond this the worker stops reading (backpressure). */
        maxInFlightMessages: z.number().int().min(1).max(65_535).default(5000),
        /** MQTT 5 session expiry, s: how long the broker queues for this worker while it is away. */
        sessionExpiryS: z
          .number()
          .int()
          .min(0)
          .default(7 * 24 * 3600),
        /**
         * With sharedGroup on MQTT 5: a worker gone this long has its session adopted by the
         * others, so its share moves to them (src/ingest/peer-adoption.ts). 0: off.
         */
        adoptPeersAfterS: z.number().int().min(0).max(3600).default(5),
      })
      .strict()
      .prefault({}),
    batchMaxReadings: z.number().int().min(1).max(50_000).default(5000),
    batchMaxWaitMs: z.number().int().min(0).max(10_000).default(25),
    /** Store writes in flight at most: the store writes one batch while the next is gathered. */
    maxWritesInFlight: z.number().int().min(1).max(8).default(2),
    /** Backpressure threshold: beyond this many readings waiting for the store, new messages wait. */
    maxPendingReadings: z.number().int().min(100).max(5_000_000).default(100_000),
  })
  .strict()

const storeSchema = z
  .object({
    kind: z.enum(['sqlite', 'influx']).default('sqlite'),
    sqlite: z.object({ path: z.string().optional() }).strict().prefault({}),
    influx: z
      .object({
        url: z.string().default('http://127.0.0.1:8086'),
        database: z.string().default('kampung'),
        username: z.string().optional(),
        password: z.string().optional(),
        token: z.string().optional(),
        /** false: the database/bucket, retention policies (2.x: DBRP mappings) are made by an admin. */
        manageSchema: z.boolean().default(true),
        rawRetention: z.string().default('90d'),
        requestTimeoutMs: z.number().int().min(100).default(10_000),
      })
      .strict()
      .prefault({}),
    /** On-disk spool for readings InfluxDB could not take yet. */
    spoolDir: z.string().optional(),
  })
  .strict()

/** One `trust proxy` entry: an address, a subnet (address/prefix) or a name proxy-addr knows. */
const trustedProxy = z.string().refine((v) => {
  if (['loopback', 'linklocal', 'uniquelocal'].includes(v)) return true
  const [address, prefix, extra] = v.split('/')
  const family = isIP(address ?? '')
  if (!family || extra !== undefined) return false
  if (prefix === undefined) return true
  const bits = Number(prefix)
  return /^\d+$/.test(prefix) && bits <= (family === 4 ? 32 : 128)
}, 'an IP address, address/prefix, or one of loopback, linklocal, uniquelocal')

const apiSchema = z
  .object({
    enabled: z.boolean().default(true),
    /** Loopback unless opened: 0.0.0.0 (or KAMPUNG_API_HOST=0.0.0.0) for gateways and Kannel on the LAN. */
    host: z.string().default('127.0.0.1'),
    port: port.default(8080),
    maxBodyBytes: z
      .number()
      .int()
      .min(1024)
      .default(1024 * 1024),
    /** When set, GET /metrics needs it as a Bearer token (KAMPUNG_API_METRICS_TOKEN). */
    metricsToken: z.string().min(16, 'at least 16 characters (e.g. openssl rand -hex 16)').optional(),
    /**
     * Express's `trust proxy`: which hops may name the client in X-Forwarded-For. false (default):
     * the TCP peer is the client. Behind a TLS proxy give its address(es) or subnet(s), e.g.
     * ["loopback"] or ["10.0.0.5"], or the number of proxies; the console's per-address login
     * limit then counts the real client, not the proxy. `true` trusts any peer: never on an open port.
     */
    trustProxy: z
      .union([z.boolean(), z.number().int().min(0).max(10), z.array(trustedProxy).min(1)])
      .default(false),
    /**
     * What an outsider can hold open: total sockets (well under the broker's share of the process's
     * files), per remote address (loopback, where a TLS proxy sits, is not capped), and how long a
     * request's headers and whole request may take.
     */
    connections: z
      .object({
        maxConnections: z.number().int().min(16).max(100_000).default(1_024),
        maxConnectionsPerAddress: z.number().int().min(1).max(100_000).default(64),
        unlimitedAddresses: z.array(z.string()).default(['127.0.0.1', '::1', '::ffff:127.0.0.1']),
        headersTimeoutMs: z.number().int().min(1_000).max(300_000).default(10_000),
        requestTimeoutMs: z.number().int().min(1_000).max(3_600_000).default(60_000),
      })
      .strict()
      .prefault({}),
  })
  .strict()

/** The simulated district (firmware-sim/): `kampung up --sim` (what `npm start` runs) or `kampung sim`. */
const simSchema = z
  .object({
    enabled: z.boolean().default(false),
    villages: z.number().int().min(1).max(10_000).default(3),
    fieldsPerVillage: z.number().int().min(0).max(100).default(3),
    treesPerVillage: z.number().int().min(0).max(100).default(2),
    seed: z.number().int().default(42),
    /** Simulated history replayed before the present, at `speed`. */
    backfillDays: z.number().min(0).max(90).default(2),
    /** Simulated ms per real ms while catching up with the present; then real time. */
    speed: z.number().min(1).max(100_000_000).default(20_000),
    /** Simulated time between two reports of a node. */
    reportIntervalMs: z.number().int().min(1000).default(60_000),
    /**
     * board: every node runs its johnny-five firmware on a mock Firmata board (the code a real
     * Arduino runs); direct: reports straight from the models (load mode: thousands of nodes).
     */
    driver: z.enum(['board', 'direct']).default('board'),
    /** Faults per node id: `{ "kemiren-pohon2": [{ "kind": "dead_tree", "fromMs": 1790000000000 }] }`. */
    faults: z.record(z.string(), z.array(z.unknown())).default({}),
  })
  .strict()

/** Sedekah Oksigen tree verification (src/oksigen). */
const oksigenSchema = z
  .object({
    enabled: z.boolean().default(true),
    /** Where citizens check a certificate: the QR code points to <publicBaseUrl>/verify/<id>. */
    publicBaseUrl: z.string().url().default('http://localhost:8080'),
    /** Ed25519 signing keys (private keys mode 0600); default <dataDir>/oksigen/keys. */
    keyDir: z.string().optional(),
    /** How often trees with new readings are re-assessed. */
    evaluateEveryMs: z.number().int().min(100).default(10_000),
    /**
     * Environmental stress E of Chave et al. 2014 eq. 6a for tree heights nobody measured (the
     * published raster's value at the site); 0 until someone reads it for Banyuwangi.
     */
    heightStressE: z.number().min(-2).max(3).default(0),
    /** Verification policy per certificate type; `default` applies to types not listed. */
    policies: z.record(z.string(), policySchema).default({ default: policySchema.parse({}) }),
  })
  .strict()

/** The officer console (src/console): logins, sessions, lockout. */
const consoleSchema = z
  .object({
    enabled: z.boolean().default(true),
    /** A session unused this long is over (the officer logs in again). */
    sessionIdleMs: z
      .number()
      .int()
      .min(1000)
      .default(30 * 60_000),
    /** And any session is over this long after login, used or not. */
    sessionAbsoluteMs: z
      .number()
      .int()
      .min(1000)
      .default(12 * 3_600_000),
    /** Wrong passwords in a row before an account is locked for `lockoutMs`. */
    maxFailedLogins: z.number().int().min(1).max(100).default(5),
    lockoutMs: z
      .number()
      .int()
      .min(1000)
      .default(15 * 60_000),
    /** Failed logins from one address within `lockoutMs` before it is refused (guessing many accounts). */
    maxFailedLoginsPerIp: z.number().int().min(1).max(10_000).default(20),
    /**
     * Mark the session cookie Secure (sent over HTTPS only). Default: when the public URL
     * (`oksigen.publicBaseUrl`) is https, i.e. the console is served behind a TLS proxy.
     */
    secureCookie: z.boolean().optional(),
    /** The console's language for users who have not chosen one, and on the login page: id | en. */
    defaultLanguage: z.enum(['id', 'en']).default('id'),
    /** The console map (src/api/map-route.ts): tiles, or none (a plain grid that works offline). */
    map: z
      .object({
        /**
         * Tile URL template with {z}, {x}, {y} (and optionally {s}), e.g. a district tile server
         * `https://tiles.example.id/{z}/{x}/{y}.png` or `/tiles/{z}/{x}/{y}.png` on this server.
         * Default none: a plain grid, no request leaves the console.
         */
        tileUrl: z
          .string()
          .refine(
            (u) => ['{z}', '{x}', '{y}'].every((p) => u.includes(p)),
            'needs {z}, {x} and {y} (e.g. https://tiles.example.id/{z}/{x}/{y}.png)',
          )
          .refine(
            (u) => /^(https?:\/\/[^/@]+\/|\/[^/])/.test(u),
            'an http(s) URL without credentials, or a path on this server',
          )
          .optional(),
        /** Credit shown in the map's corner for the tiles (e.g. "© OpenStreetMap contributors"). */
        tileAttribution: z.string().max(300).default(''),
        /** A device with a reading this recent counts as online, as does one with a live MQTT connection. */
        onlineWithinMs: z
          .number()
          .int()
          .min(60_000)
          .default(60 * 60_000),
      })
      .strict()
      .prefault({}),
  })
  .strict()

/** A budget of failures: `burst` at once, regaining `perMinute`. */
const failureBudgetSchema = z
  .object({
    burst: z.number().int().min(1).max(1_000_000),
    perMinute: z.number().min(0.01).max(1_000_000),
  })
  .strict()

/**
 * Limits per device and per client address (src/registry/auth-limits.ts, broker/device-connections.ts,
 * src/ingest/quota.ts): authentication failures, connections, messages and readings.
 */
const deviceLimitsSchema = z
  .object({
    auth: z
      .object({
        /** Failed device authentications per client address (MQTT and HTTP together). */
        perAddress: failureBudgetSchema.default({ burst: 60, perMinute: 60 }),
        /** Failed authentications per device id, from any address; unknown ids alike. */
        perDevice: failureBudgetSchema.default({ burst: 20, perMinute: 10 }),
        /** Every refusal answered no sooner than this: known and unknown ids take the same time. */
        refusalMinMs: z.number().int().min(0).max(5_000).default(50),
      })
      .strict()
      .prefault({}),
    /** Open MQTT connections one device credential may hold. */
    maxConnectionsPerDevice: z.number().int().min(1).max(10_000).default(8),
    quota: z
      .object({
        /** Messages per minute per device, MQTT and HTTP together; 0: no rate limit. */
        messagesPerMinute: z.number().min(0).max(1_000_000).default(0),
        /** Messages at once before the rate applies. */
        messagesBurst: z.number().int().min(1).max(1_000_000).default(600),
        /** Readings stored per device per Asia/Jakarta day; 0: no daily limit. */
        readingsPerDay: z.number().int().min(0).max(1_000_000_000).default(250_000),
      })
      .strict()
      .prefault({}),
  })
  .strict()

/** Commands to devices (src/commands): expiry, resend of unacknowledged ones. */
const commandsSchema = z
  .object({
    /** Expiry of a command that names none (a node on solar power may be offline overnight). */
    defaultExpiryS: z
      .number()
      .int()
      .min(1)
      .max(30 * 86_400)
      .default(86_400),
    /** The longest expiry a command may ask for. */
    maxExpiryS: z
      .number()
      .int()
      .min(1)
      .max(30 * 86_400)
      .default(7 * 86_400),
    /** A sent, unacknowledged command goes out again after this long while its device is online. */
    resendAfterS: z.number().int().min(1).max(86_400).default(30),
    /** How often expiries and resends are checked. */
    checkEveryMs: z.number().int().min(100).max(60_000).default(1_000),
    /**
     * The one role that talks to devices about commands (sends on `…/down`, records `…/ack`):
     * `broker` the embedded broker (`kampung up`, `kampung broker`); `state` each state worker for
     * the villages it owns; `ingest` a single ingest worker (no sharedGroup) for every village.
     * `state` and `ingest` are MQTT clients of `ingest.mqtt.url` (Mosquitto, EMQX).
     */
    sendFrom: z.enum(['broker', 'state', 'ingest']).default('broker'),
  })
  .strict()

export const configSchema = z
  .object({
    dataDir: z.string().default('./data'),
    registryPath: z.string().optional(),
    broker: brokerSchema.prefault({}),
    ingest: ingestSchema.prefault({}),
    store: storeSchema.prefault({}),
    api: apiSchema.prefault({}),
    sim: simSchema.prefault({}),
    oksigen: oksigenSchema.prefault({}),
    notify: notifySchema.prefault({}),
    console: consoleSchema.prefault({}),
    /** Smart Farming alerts and irrigation advice (src/alerts). */
    alerts: alertsSchema.prefault({}),
    deviceLimits: deviceLimitsSchema.prefault({}),
    commands: commandsSchema.prefault({}),
    /** LoRaWAN network servers over MQTT (src/lorawan); no servers: off. */
    lorawan: lorawanSchema.prefault({}),
  })
  .strict()

export type Config = z.infer<typeof configSchema>
export type ConfigInput = z.input<typeof configSchema>

export class ConfigError extends Error {
  readonly problems: string[]
  constructor(source: string, problems: string[]) {
    super(`invalid configuration (${source}):\n${problems.map((p) => `  - ${p}`).join('\n')}`)
    this.name = 'ConfigError'
    this.problems = problems
  }
}

/** Environment variables that override the file, each mapped to one config path. */
export const ENV_VARS: Record<string, { path: string[]; type: 'string' | 'number' | 'boolean' }> = {
  KAMPUNG_DATA_DIR: { path: ['dataDir'], type: 'string' },
  KAMPUNG_REGISTRY_PATH: { path: ['registryPath'], type: 'string' },
  KAMPUNG_MQTT_HOST: { path: ['broker', 'host'], type: 'string' },
  KAMPUNG_MQTT_PORT: { path: ['broker', 'port'], type: 'number' },
  KAMPUNG_BROKER_ENABLED: { path: ['broker', 'enabled'], type: 'boolean' },
  KAMPUNG_BROKER_REDIS_URL: { path: ['broker', 'cluster', 'redisUrl'], type: 'string' },
  KAMPUNG_INGEST_MODE: { path: ['ingest', 'mode'], type: 'string' },
  KAMPUNG_INGEST_MQTT_URL: { path: ['ingest', 'mqtt', 'url'], type: 'string' },
  KAMPUNG_INGEST_MQTT_USERNAME: { path: ['ingest', 'mqtt', 'username'], type: 'string' },
  KAMPUNG_INGEST_MQTT_PASSWORD: { path: ['ingest', 'mqtt', 'password'], type: 'string' },
  KAMPUNG_INGEST_MQTT_CLIENT_ID: { path: ['ingest', 'mqtt', 'clientId'], type: 'string' },
  KAMPUNG_INGEST_MQTT_PROTOCOL: { path: ['ingest', 'mqtt', 'protocolVersion'], type: 'number' },
  KAMPUNG_INGEST_MQTT_SHARED_GROUP: { path: ['ingest', 'mqtt', 'sharedGroup'], type: 'string' },
  KAMPUNG_INGEST_MQTT_SESSION_EXPIRY_S: { path: ['ingest', 'mqtt', 'sessionExpiryS'], type: 'number' },
  KAMPUNG_INGEST_MQTT_ADOPT_PEERS_AFTER_S: { path: ['ingest', 'mqtt', 'adoptPeersAfterS'], type: 'number' },
  KAMPUNG_COMMANDS_SEND_FROM: { path: ['commands', 'sendFrom'], type: 'string' },
  KAMPUNG_PUBLIC_BASE_URL: { path: ['oksigen', 'publicBaseUrl'], type: 'string' },
  KAMPUNG_OKSIGEN_ENABLED: { path: ['oksigen', 'enabled'], type: 'boolean' },
  KAMPUNG_ALERTS_ENABLED: { path: ['alerts', 'enabled'], type: 'boolean' },
  KAMPUNG_STORE: { path: ['store', 'kind'], type: 'string' },
  KAMPUNG_INFLUX_URL: { path: ['store', 'influx', 'url'], type: 'string' },
  KAMPUNG_INFLUX_DATABASE: { path: ['store', 'influx', 'database'], type: 'string' },
  KAMPUNG_INFLUX_USERNAME: { path: ['store', 'influx', 'username'], type: 'string' },
  KAMPUNG_INFLUX_PASSWORD: { path: ['store', 'influx', 'password'], type: 'string' },
  KAMPUNG_INFLUX_TOKEN: { path: ['store', 'influx', 'token'], type: 'string' },
  KAMPUNG_API_HOST: { path: ['api', 'host'], type: 'string' },
  KAMPUNG_API_PORT: { path: ['api', 'port'], type: 'number' },
  KAMPUNG_API_METRICS_TOKEN: { path: ['api', 'metricsToken'], type: 'string' },
  KAMPUNG_NOTIFY_SENDER: { path: ['notify', 'sender'], type: 'string' },
  KAMPUNG_KANNEL_SENDSMS_URL: { path: ['notify', 'kannel', 'sendsmsUrl'], type: 'string' },
  KAMPUNG_KANNEL_USERNAME: { path: ['notify', 'kannel', 'username'], type: 'string' },
  KAMPUNG_KANNEL_PASSWORD: { path: ['notify', 'kannel', 'password'], type: 'string' },
  KAMPUNG_KANNEL_CALLBACK_TOKEN: { path: ['notify', 'kannel', 'callbackToken'], type: 'string' },
  KAMPUNG_SMPP_HOST: { path: ['notify', 'smpp', 'host'], type: 'string' },
  KAMPUNG_SMPP_PORT: { path: ['notify', 'smpp', 'port'], type: 'number' },
  KAMPUNG_SMPP_SYSTEM_ID: { path: ['notify', 'smpp', 'systemId'], type: 'string' },
  KAMPUNG_SMPP_PASSWORD: { path: ['notify', 'smpp', 'password'], type: 'string' },
}

function setPath(target: Record<string, unknown>, keys: string[], value: unknown): void {
  let node = target
  for (const key of keys.slice(0, -1)) {
    const next = node[key]
    if (typeof next !== 'object' || next === null) node[key] = {}
    node = node[key] as Record<string, unknown>
  }
  node[keys[keys.length - 1]!] = value
}

/** Environment overrides as a partial config; malformed values are reported like schema errors. */
function fromEnv(env: NodeJS.ProcessEnv, problems: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [name, spec] of Object.entries(ENV_VARS)) {
    const raw = env[name]
    if (raw === undefined || raw === '') continue
    let value: unknown = raw
    if (spec.type === 'number') {
      value = Number(raw)
      if (!Number.isFinite(value)) {
        problems.push(`${name}: expected a number, got "${raw}"`)
        continue
      }
    } else if (spec.type === 'boolean') {
      if (!['true', 'false', '1', '0'].includes(raw)) {
        problems.push(`${name}: expected true or false, got "${raw}"`)
        continue
      }
      value = raw === 'true' || raw === '1'
    }
    setPath(out, spec.path, value)
  }
  // Naming an InfluxDB URL means "use InfluxDB" unless the store kind is set explicitly.
  if (env.KAMPUNG_INFLUX_URL && !env.KAMPUNG_STORE) setPath(out, ['store', 'kind'], 'influx')
  return out
}

function deepMerge(base: unknown, over: unknown): unknown {
  if (typeof base !== 'object' || base === null || Array.isArray(base)) return over
  if (typeof over !== 'object' || over === null || Array.isArray(over)) return over
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) }
  for (const [k, v] of Object.entries(over)) out[k] = deepMerge(out[k], v)
  return out
}

export function parseConfig(input: unknown, source = 'config'): Config {
  const result = configSchema.safeParse(input ?? {})
  if (!result.success) {
    throw new ConfigError(
      source,
      result.error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`),
    )
  }
  return result.data
}

/**
 * Load the config: the file (KAMPUNG_CONFIG or the given path, YAML or JSON), then environment
 * overrides. Throws ConfigError listing every problem.
 */
export function loadConfig(
  opts: { file?: string; env?: NodeJS.ProcessEnv; overrides?: ConfigInput } = {},
): Config {
  const env = opts.env ?? process.env
  const file = opts.file ?? env.KAMPUNG_CONFIG
  const problems: string[] = []
  let fromFile: unknown = {}
  if (file) {
    if (!existsSync(file)) throw new ConfigError(file, [`file not found: ${path.resolve(file)}`])
    try {
      fromFile = parseYaml(readFileSync(file, 'utf8')) ?? {}
    } catch (err) {
      throw new ConfigError(file, [`not valid YAML/JSON: ${(err as Error).message}`])
    }
  }
  const envPart = fromEnv(env, problems)
  const merged = deepMerge(deepMerge(fromFile, envPart), opts.overrides ?? {})
  const result = configSchema.safeParse(merged)
  if (!result.success) {
    for (const i of result.error.issues) {
      problems.push(`${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`)
    }
  }
  if (problems.length) throw new ConfigError(file ?? 'environment', problems)
  return result.data!
}

/** Config keys whose values are credentials: printed as REDACTED, never as they are. */
const SECRET_KEY = /(password|secret|token)$/i
export const REDACTED = '***'

/**
 * The config with every credential replaced by `***`: values of keys named like a password,
 * secret or token, and the password part of URLs (`redis://:pw@host`, `mqtt://u:pw@host`).
 * For printing (`kampung config`) and logging; the config itself is not changed.
 */
export function redactSecrets(config: Config): Config {
  const redact = (value: unknown, key: string): unknown => {
    if (value === undefined || value === null) return value
    if (SECRET_KEY.test(key)) return REDACTED
    if (typeof value === 'string') return redactUrlPassword(value)
    if (Array.isArray(value)) return value.map((v) => redact(v, ''))
    if (typeof value === 'object') {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redact(v, k)]))
    }
    return value
  }
  return redact(config, '') as Config
}

function redactUrlPassword(text: string): string {
  if (!/^[a-z][a-z0-9+.-]*:\/\/[^/\s]*@/i.test(text)) return text
  try {
    const url = new URL(text)
    if (url.password === '') return text
    url.password = REDACTED
    return url.toString()
  } catch {
    return text
  }
}

/** Paths derived from dataDir where the config leaves them unset. */
export function resolvePaths(config: Config): {
  registry: string
  sqlite: string
  spoolDir: string
  oksigenDir: string
  keyDir: string
} {
  const oksigenDir = path.join(config.dataDir, 'oksigen')
  return {
    registry: config.registryPath ?? path.join(config.dataDir, 'registry.db'),
    sqlite: config.store.sqlite.path ?? path.join(config.dataDir, 'telemetry.db'),
    spoolDir: config.store.spoolDir ?? path.join(config.dataDir, 'spool'),
    oksigenDir,
    keyDir: config.oksigen.keyDir ?? path.join(oksigenDir, 'keys'),
  }
}
