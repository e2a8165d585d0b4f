import { createHash } from 'node:crypto'
import { type Interpretation, isObject, type NetworkServer } from './types.ts'

/**
 * ChirpStack v4's MQTT integration (https://www.chirpstack.io/docs/chirpstack/integrations/mqtt.html,
 * event bodies: …/integrations/events.html). Events on
 * `application/<application id>/device/<devEui>/event/<up|join|ack|txack|status|log|…>`; some 4.x
 * releases publish join and status as retained `…/state/<join|status>`, so both are read. A
 * downlink is queued on `…/command/down` with `{devEui, confirmed, fPort, data}` (or `object` for
 * the device profile's codec) and our `id`: ChirpStack keeps a given `id` as the queue item id
 * (DownlinkCommand.id, chirpstack/src/integration/mod.rs `handle_down_command`), and its `ack` and
 * `txack` events name it as `queueItemId`.
 */
export const chirpstack: NetworkServer = {
  kind: 'chirpstack',
  format: 'chirpstack',
  topicFilters: ['application/+/device/+/event/+', 'application/+/device/+/state/+'],

  parseTopic(topic) {
    const p = topic.split('/')
    if (p.length !== 6 || p[0] !== 'application' || p[2] !== 'device') return undefined
    if (p[4] !== 'event' && p[4] !== 'state') return undefined
    return { app: p[1]!, dev: p[3]!.toLowerCase(), event: p[5]! }
  },

  interpret(event, body): Interpretation {
    if (!isObject(body)) return { type: 'malformed', message: 'expected a ChirpStack event object' }
    switch (event) {
      case 'up':
        return { type: 'uplink' }
      case 'join':
      case 'status':
        return { type: 'seen' }
      case 'ack':
      case 'txack': {
        const queueItemId = body.queueItemId
        if (typeof queueItemId !== 'string' || queueItemId === '')
          return { type: 'malformed', message: `a ChirpStack ${event} event names its queueItemId` }
        if (event === 'txack') return { type: 'answer', outcome: 'transmitted', queueItemId }
        if (typeof body.acknowledged !== 'boolean' && body.acknowledged !== undefined)
          return { type: 'malformed', message: 'acknowledged must be true or false' }
        // proto3 JSON leaves out a false boolean: no `acknowledged` is false.
        return body.acknowledged === true
          ? { type: 'answer', outcome: 'acknowledged', queueItemId }
          : {
              type: 'answer',
              outcome: 'failed',
              queueItemId,
              error:
                'the device did not acknowledge the confirmed downlink (ChirpStack ack, acknowledged false)',
            }
      }
      default:
        return { type: 'ignored' }
    }
  },

  downlink(to, frame) {
    const body: Record<string, unknown> = {
      id: queueItemId(frame.commandId),
      devEui: to.dev,
      confirmed: frame.confirmed,
      fPort: frame.fPort,
    }
    if (frame.bytes) body.data = frame.bytes.toString('base64')
    else body.object = frame.object
    return { topic: `application/${to.app}/device/${to.dev}/command/down`, payload: JSON.stringify(body) }
  },
}

/**
 * The ChirpStack queue item id of a command: a UUID (version 8, RFC 9562) from the SHA-256 of the
 * command id, so the same command always has the same queue item (ChirpStack refuses a second
 * one with a used id) and an ack's queueItemId leads back to it.
 */
export function queueItemId(commandId: string): string {
  const b = createHash('sha256').update(`kampung-command:${commandId}`).digest().subarray(0, 16)
  b[6] = (b[6]! & 0x0f) | 0x80
  b[8] = (b[8]! & 0x3f) | 0x80
  const h = b.toString('hex')
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`
}
