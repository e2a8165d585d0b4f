/**
 * A device's connection state from its retained MQTT status message
 * (`kampung/<village>/<device>/status`, `{"state": "online"|"offline", "atMs": …}`, published by
 * the broker on connect/disconnect and by a gateway for its health), for
 * `AlertEngine.onDeviceStatus`. Anything else is not a status: undefined, never an exception.
 */
export interface DeviceStatus {
  village: string
  device: string
  state: 'online' | 'offline'
  atMs: number
}

export function parseStatusMessage(
  topic: string,
  payload: Buffer | string,
  receivedAtMs = Date.now(),
): DeviceStatus | undefined {
  const m = /^kampung\/([^/]+)\/([^/]+)\/status$/.exec(topic)
  if (!m) return undefined
  let body: unknown
  try {
    body = JSON.parse(typeof payload === 'string' ? payload : payload.toString('utf8'))
  } catch {
    return undefined
  }
  const { state, atMs } = (body ?? {}) as { state?: unknown; atMs?: unknown }
  if (state !== 'online' && state !== 'offline') return undefined
  return {
    village: m[1]!,
    device: m[2]!,
    state,
    atMs: typeof atMs === 'number' && Number.isFinite(atMs) ? atMs : receivedAtMs,
  }
}
