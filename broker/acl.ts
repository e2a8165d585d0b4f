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
  | 'connection_limit' // a socket over the total or per-address connection cap: closed at once
  | 'partial_packet_timeout' // a packet (a CONNECT included) not complete within its deadline

/**
 * The separator between an identity and the rest of a client id. Ids never contain it
 * (ID_PATTERN: a-z, 0-9, '_' and '-'), so `<id>:<suffix>` names exactly one identity, while
 * `soil-01` could be device `soil-01` or device `soil` with suffix `01`.
 */
export const CLIENT_ID_SEPARATOR = ':'

/** Whether a client id may be used by a principal; `legacy_separator`: `<id>-…` from a device. */
export type ClientIdVerdict = 'own' | 'other' | 'legacy_separator'

/**
 * Which client ids a principal may connect with. A second connection with the same client id
 * takes over the session ([MQTT-3.1.4-2]: the older client is disconnected, and a persistent
 * session's queued downlink goes to the newcomer), so a client id must name its identity without
 * doubt:
 * - the principal's id itself, or `<id>:<anything>` (one device may hold several connections,
 *   e.g. a gateway's `soil-01:gw` next to the node's own `soil-01`);
 * - a device's `<id>-…` is refused (`legacy_separator`): `soil` must not become `soil-01`;
 * - a `service` principal (the operator's own workers, configured as `ingest-1`, `ingest-1-peers`)
 *   keeps `<id>-…` unless a longer registered id owns it: the longest registered id that the
 *   client id equals or continues with `-` decides, so service `ingest` never takes `ingest-pump`.
 */
export function clientIdVerdict(
  clientId: string,
  principal: Pick<Device, 'id' | 'kind'>,
  isRegistered: (id: string) => boolean,
): ClientIdVerdict {
  const id = principal.id
  const separator = clientId.indexOf(CLIENT_ID_SEPARATOR)
  if (separator !== -1) return clientId.slice(0, separator) === id ? 'own' : 'other'
  if (clientId === id) return 'own'
  if (!clientId.startsWith(`${id}-`)) return 'other'
  if (principal.kind !== 'service') return 'legacy_separator'
  // Longest first: the whole client id, then each prefix ending before a '-', down to the id.
  for (let end = clientId.length; end > id.length; end = clientId.lastIndexOf('-', end - 1)) {
    if (isRegistered(clientId.slice(0, end))) return 'other'
  }
  return 'own'
}

const SERVICE_PUBLISH_LEAVES = new Set(['errors', 'down'])

/**
 * What a publish to `topic` by `principal` is: an uplink, a status (the broker alone writes
 * `…/status`: such a publish is acknowledged and dropped, so a device cannot mark itself online
 * or offline, and the Mosquitto-era habit of announcing one's own status does not cost a
 * connection), another allowed publish, or refused.
 */
export function classifyPublish(
  principal: Device,
  topic: string,
): 'uplink' | 'status' | 'allowed' | 'refused' {
  if (principal.kind === 'service') {
    const parsed = parseDeviceTopic(topic)
    if (!parsed) return 'refused'
    if (parsed.leaf === 'status') return 'status'
    return SERVICE_PUBLISH_LEAVES.has(parsed.leaf) ? 'allowed' : 'refused'
  }
  // Exact matches only: `…/up/extra` sub-levels would be invisible to an ingest subscribed to
  // `kampung/+/+/up` and so would never be stored.
  if (topic === topics.up(principal.village, principal.id)) return 'uplink'
  if (topic === topics.status(principal.village, principal.id)) return 'status'
  // A device answers its commands on its own ack topic; no one else may answer for it.
  if (topic === topics.ack(principal.village, principal.id)) return 'allowed'
  // A gateway's health report (queue depth, its nodes' links) has its own topic, so nothing it
  // says about its nodes can read as the broker's online/offline of anyone.
  if (principal.kind === 'gateway' && topic === topics.health(principal.village, principal.id))
    return 'allowed'
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
