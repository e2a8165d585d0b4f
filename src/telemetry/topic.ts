/**
 * The MQTT topic scheme of the telemetry model: `kampung/<village>/<device>/<leaf>`, one topic per
 * device and leaf. The broker's ACL allows a device exactly its own; ingest and the state role
 * subscribe with `+` wildcards for village and device.
 *
 * - `up`: the device's readings (its payload format, see the registry);
 * - `errors`: what ingest rejected of its messages (a RejectionReport);
 * - `status`: retained `{"state": "online"|"offline", "atMs": …}`, written by the broker alone on
 *   connect and disconnect (behind Mosquitto: the device's own announcement and its will);
 * - `health`: a gateway's retained health report (queue, uplink, its nodes' links);
 * - `down`: commands to the device (src/commands, QoS 1);
 * - `ack`: the device's answers to its commands (`{"id", "ok", "error"?}`).
 */
export const TOPIC_LEAVES = ['up', 'errors', 'status', 'health', 'down', 'ack'] as const
export type TopicLeaf = (typeof TOPIC_LEAVES)[number]

const ROOT = 'kampung'
const PREFIX = `${ROOT}/`

/** Topics of one device, and filters over many. */
export const topics = {
  up: (village: string, device: string) => `${PREFIX}${village}/${device}/up`,
  errors: (village: string, device: string) => `${PREFIX}${village}/${device}/errors`,
  status: (village: string, device: string) => `${PREFIX}${village}/${device}/status`,
  health: (village: string, device: string) => `${PREFIX}${village}/${device}/health`,
  down: (village: string, device: string) => `${PREFIX}${village}/${device}/down`,
  ack: (village: string, device: string) => `${PREFIX}${village}/${device}/ack`,
  /** One leaf of every device of a village (`kampung/<village>/+/<leaf>`), or of every village. */
  filter: (leaf: TopicLeaf, village = '+') => `${PREFIX}${village}/+/${leaf}`,
  /** Every topic of the scheme (`kampung/#`). */
  all: `${ROOT}/#`,
}

export interface DeviceTopic {
  village: string
  device: string
  leaf: string
}

/**
 * `kampung/<village>/<device>/<leaf>` with exactly four non-empty levels, or undefined. On every
 * message's path: index arithmetic, no split or regular expression.
 */
export function parseDeviceTopic(topic: string): DeviceTopic | undefined {
  if (!topic.startsWith(PREFIX)) return undefined
  const villageEnd = topic.indexOf('/', PREFIX.length)
  if (villageEnd <= PREFIX.length) return undefined
  const deviceEnd = topic.indexOf('/', villageEnd + 1)
  if (deviceEnd <= villageEnd + 1 || deviceEnd === topic.length - 1) return undefined
  if (topic.indexOf('/', deviceEnd + 1) !== -1) return undefined
  return {
    village: topic.slice(PREFIX.length, villageEnd),
    device: topic.slice(villageEnd + 1, deviceEnd),
    leaf: topic.slice(deviceEnd + 1),
  }
}

/** Whether a topic or filter lies in the scheme (`kampung/…`). */
export function inTopicScheme(topicOrFilter: string): boolean {
  return topicOrFilter.startsWith(PREFIX)
}

/** A cheap first test for a status topic (the broker sees every publish): parse to be sure. */
export function isStatusTopic(topic: string): boolean {
  return topic.startsWith(PREFIX) && topic.endsWith('/status')
}

/**
 * A device's connection state from its retained status message, for the alerts engine's gateway
 * health (`AlertEngine.onDeviceStatus`).
 */
export interface DeviceStatus {
  village: string
  device: string
  state: 'online' | 'offline'
  atMs: number
}

/** The body of a status message (the broker's, and a device's will). */
export function statusMessage(state: DeviceStatus['state'], atMs?: number): string {
  return JSON.stringify(atMs === undefined ? { state } : { state, atMs })
}

/**
 * A status message (`kampung/<village>/<device>/status`, `{"state": "online"|"offline", "atMs": …}`;
 * other fields are ignored). Anything else is not a status:
 * undefined, never an exception. Without `atMs` the status holds from `receivedAtMs`.
 */
export function parseStatusMessage(
  topic: string,
  payload: Buffer | string,
  receivedAtMs = Date.now(),
): DeviceStatus | undefined {
  const t = parseDeviceTopic(topic)
  if (t?.leaf !== 'status') return undefined
  let body: unknown
  try {
    body = JSON.parse(typeof payload === 'string' ? payload : payload.toString('utf8'))
  } catch {
    return undefined
  }
  const { state, atMs } = (body ?? {}) as { state?: unknown; atMs?: unknown }
  if (state !== 'online' && state !== 'offline') return undefined
  return {
    village: t.village,
    device: t.device,
    state,
    atMs: typeof atMs === 'number' && Number.isFinite(atMs) ? atMs : receivedAtMs,
  }
}
