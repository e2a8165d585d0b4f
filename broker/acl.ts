import type { Device } from '../src/registry/index.ts'
import { inTopicScheme, parseDeviceTopic, topics } from '../src/telemetry/index.ts'

/**
 * Topic ACL as small pure functions: who may connect with which client id, publish where and
 * subscribe to what. The broker only calls these; tests can call them directly.
 */

/** Why something was refused; labels `broker.stats()` counters and the log. */
export type RefusalCause =
  | 'bad_credentials' // CONNACK 4: unknown device or wrong secret
  | 'client_id_mismatch' // CONNACK 2: the client id belongs to another identity
  | 'will_not_allowed' // CONNACK 5: a will aimed anywhere but the device's own status topic
  | 'auth_unavailable' // CONNACK 3: the registry failed (retryable for the device)
  | 'auth_throttled' // CONNACK 3: the address's or id's failure budget is spent; secret not checked
  | 'device_connection_cap' // CONNACK 3: the device already holds maxConnectionsPerDevice connections
  | 'publish_topic' // PUBLISH outside the device's own topics
  | 'payload_too_large' // PUBLISH over maxPayloadBytes
  | 'packet_too_large' // a packet whose declared size exceeds the frame limit: connection dropped
  | 'uplink_failed' // onUplink rejected: no PUBACK, the device resends
  | 'subscribe_topic' // SUBSCRIBE outside the device's own topics: granted 128

/**
 * A client id belongs to a device when it is the device id or `<id>-…` / `<id>:…`, so one device
 * may hold a few connections (e.g. `gw-01-uplink`) but can never take over another device's
 * session ([MQTT-3.1.4-2] disconnects the older client with the same id).
 */
export function clientIdBelongsTo(clientId: string, deviceId: string): boolean {
  return clientId === deviceId || clientId.startsWith(`${deviceId}-`) || clientId.startsWith(`${deviceId}:`)
}

const SERVICE_PUBLISH_LEAVES = new Set(['errors', 'status', 'down'])

/** What a publish to `topic` by `principal` is: an uplink, another allowed publish, or refused. */
export function classifyPublish(principal: Device, topic: string): 'uplink' | 'allowed' | 'refused' {
  if (principal.kind === 'service') {
    const parsed = parseDeviceTopic(topic)
    return parsed && SERVICE_PUBLISH_LEAVES.has(parsed.leaf) ? 'allowed' : 'refused'
  }
  // Exact matches only: `…/up/extra` sub-levels would be invisible to an ingest subscribed to
  // `kampung/+/+/up` and so would never be stored.
  if (topic === topics.up(principal.village, principal.id)) return 'uplink'
  if (topic === topics.status(principal.village, principal.id)) return 'allowed'
  return 'refused'
}

export function canSubscribe(principal: Device, topicFilter: string): boolean {
  if (principal.kind === 'service') return inTopicScheme(topicFilter)
  const down = topics.down(principal.village, principal.id)
  return (
    topicFilter === down ||
    topicFilter === `${down}/#` ||
    topicFilter === topics.errors(principal.village, principal.id)
  )
}

/** A will must target the device's own status topic; no will at all is fine. */
export function willAllowed(principal: Device, willTopic: string | undefined): boolean {
  return willTopic === undefined || willTopic === topics.status(principal.village, principal.id)
}
