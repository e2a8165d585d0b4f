import { CORRELATION_PREFIX, type Interpretation, isObject, type NetworkServer } from './types.ts'

/**
 * The Things Stack v3's MQTT server
 * (https://www.thethingsindustries.com/docs/integrations/other-integrations/mqtt/, bodies:
 * …/integrations/data-formats/). Topics `v3/<app>@<tenant>/devices/<device id>/<event>` (`v3/<app>/…`
 * on TTS Open Source); a downlink is pushed on `…/down/push` as `{downlinks: [{f_port, frm_payload
 * | decoded_payload, confirmed, priority, correlation_ids}]}`; its `down/ack`, `down/nack`,
 * `down/sent` and `down/failed` events carry the downlink with our correlation id. TTS's MQTT
 * server delivers at QoS 0 only: what it sends while the bridge is away is not kept for us.
 */
export const tts: NetworkServer = {
  kind: 'tts',
  format: 'tts',
  topicFilters: ['up', 'join', 'down/ack', 'down/nack', 'down/sent', 'down/failed'].map(
    (e) => `v3/+/devices/+/${e}`,
  ),

  parseTopic(topic) {
    const p = topic.split('/')
    if (p.length < 5 || p[0] !== 'v3' || p[2] !== 'devices') return undefined
    return { app: p[1]!, dev: p[3]!, event: p.slice(4).join('/') }
  },

  interpret(event, body): Interpretation {
    if (!isObject(body)) return { type: 'malformed', message: 'expected a The Things Stack message object' }
    switch (event) {
      case 'up':
        return { type: 'uplink' }
      case 'join':
        return { type: 'seen' }
      case 'down/ack':
        return answer(body, 'downlink_ack', 'acknowledged')
      case 'down/sent':
        return answer(body, 'downlink_sent', 'transmitted')
      case 'down/nack':
        return answer(
          body,
          'downlink_nack',
          'failed',
          'the device did not acknowledge the downlink (TTS down/nack)',
        )
      case 'down/failed': {
        const failed = body.downlink_failed
        if (!isObject(failed))
          return { type: 'malformed', message: 'a down/failed message carries downlink_failed' }
        const error = isObject(failed.error) ? failed.error : {}
        const why = [error.name, error.message_format].filter((s) => typeof s === 'string').join(': ')
        return {
          type: 'answer',
          outcome: 'failed',
          correlationIds: correlationIds(body, failed.downlink),
          error: `TTS down/failed${why ? `: ${why}` : ''}`,
        }
      }
      default:
        return { type: 'ignored' }
    }
  },

  downlink(to, frame) {
    const downlink: Record<string, unknown> = { f_port: frame.fPort }
    if (frame.bytes) downlink.frm_payload = frame.bytes.toString('base64')
    else downlink.decoded_payload = frame.object
    Object.assign(downlink, {
      confirmed: frame.confirmed,
      priority: 'NORMAL',
      correlation_ids: [`${CORRELATION_PREFIX}${frame.commandId}`],
    })
    return {
      topic: `v3/${to.app}/devices/${to.dev}/down/push`,
      payload: JSON.stringify({ downlinks: [downlink] }),
    }
  },
}

function answer(
  body: Record<string, unknown>,
  field: string,
  outcome: 'acknowledged' | 'failed' | 'transmitted',
  error?: string,
): Interpretation {
  const downlink = body[field]
  if (!isObject(downlink)) return { type: 'malformed', message: `expected ${field}` }
  return {
    type: 'answer',
    outcome,
    correlationIds: correlationIds(body, downlink),
    ...(error ? { error } : {}),
  }
}

/** The message's and the downlink's correlation ids (TTS puts ours on the downlink). */
function correlationIds(body: Record<string, unknown>, downlink: unknown): string[] {
  const ids: string[] = []
  for (const source of [body.correlation_ids, isObject(downlink) ? downlink.correlation_ids : undefined])
    if (Array.isArray(source)) for (const id of source) if (typeof id === 'string') ids.push(id)
  return ids
}
