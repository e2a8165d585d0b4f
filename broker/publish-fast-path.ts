import type { EventEmitter } from 'node:events'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'

/**
 * A fast path in front of the mqtt-packet parser aedes gives each client, for the packet that is
 * nearly all of the traffic: a whole PUBLISH inside one socket chunk. mqtt-packet copies every
 * chunk into a BufferList and walks four states per packet (with a debug() call in each); that
 * was about a sixth of the service's CPU in the ingest benchmark. Here a complete MQTT 3.1.1
 * PUBLISH is read straight from the chunk into the same packet shape mqtt-packet emits (its
 * payload a view of the chunk, as mqtt-packet's own slice of a single buffer is) and emitted as
 * 'packet', which is all aedes listens to.
 *
 * Anything else goes to mqtt-packet untouched, in order: a chunk is handled from its start for as
 * long as it holds whole PUBLISH packets, and the rest (another packet type, a malformed or
 * partial packet) is parsed by mqtt-packet, which keeps a partial packet and is used alone until
 * its buffer is empty again. Errors are therefore mqtt-packet's own. MQTT 5 (properties) is not
 * read here: aedes 1.x speaks 3.1.1 only, and a parser set to protocol version 5 is left alone.
 */
export interface MqttPacketParser extends EventEmitter {
  parse(buf: Buffer): number
  /** mqtt-packet internals read here: bytes buffered, state, error, settings. */
  _list: { length: number }
  _stateCounter: number
  error: Error | null
  settings: { protocolVersion?: number }
}

/** The field order of mqtt-packet's Packet (so the objects share a shape), plus messageId. */
class PublishPacket {
  cmd = 'publish'
  retain: boolean
  qos: number
  dup: boolean
  length: number
  topic: string
  payload: Buffer
  messageId: number | undefined

  constructor(
    retain: boolean,
    qos: number,
    dup: boolean,
    length: number,
    topic: string,
    payload: Buffer,
    messageId: number | undefined,
  ) {
    this.retain = retain
    this.qos = qos
    this.dup = dup
    this.length = length
    this.topic = topic
    this.payload = payload
    this.messageId = messageId
  }
}

const PUBLISH = 3

/**
 * The releases whose private internals (aedes' `client._parser`; mqtt-packet's `_list`,
 * `_stateCounter`) this file reads. package.json pins exactly these; with others installed the
 * broker leaves the fast path off and says so once at start.
 */
export const FAST_PATH_VERSIONS = { aedes: '1.2.0', 'mqtt-packet': '9.0.2' } as const
export type FastPathVersions = Record<keyof typeof FAST_PATH_VERSIONS, string | undefined>

/** Versions of the installed aedes and of the mqtt-packet that aedes itself loads. */
export function installedVersions(): FastPathVersions {
  const aedesMain = resolveFrom(import.meta.url, 'aedes')
  const packetMain = aedesMain && resolveFrom(aedesMain, 'mqtt-packet')
  return {
    aedes: aedesMain && versionOf(aedesMain, 'aedes'),
    'mqtt-packet': packetMain && versionOf(packetMain, 'mqtt-packet'),
  }
}

/** Why the fast path must stay off with these versions; undefined when it may be installed. */
export function fastPathProblem(installed: FastPathVersions): string | undefined {
  const names = Object.keys(FAST_PATH_VERSIONS) as Array<keyof typeof FAST_PATH_VERSIONS>
  const off = names.filter((name) => installed[name] !== FAST_PATH_VERSIONS[name])
  if (off.length === 0) return undefined
  return off
    .map(
      (name) =>
        `${name} ${installed[name] ?? 'not found'} installed, written for ${FAST_PATH_VERSIONS[name]}`,
    )
    .join('; ')
}

function resolveFrom(from: string, name: string): string | undefined {
  try {
    return createRequire(from).resolve(name)
  } catch {
    return undefined
  }
}

/** The version in the package.json of `name` that holds `file` (aedes exports no package.json). */
function versionOf(file: string, name: string): string | undefined {
  for (let dir = dirname(file); dir !== dirname(dir); dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
        name?: string
        version?: string
      }
      if (pkg.name === name) return pkg.version
    } catch {
      // no package.json at this level: go up
    }
  }
  return undefined
}

/**
 * Offered every whole PUBLISH the fast path reads, before it is emitted: returns true when it has
 * taken the packet (it is then not emitted at all), false to let it go to aedes as usual. `payload`
 * is a view of the socket chunk.
 */
export type PublishTaker = (
  topic: string,
  payload: Buffer,
  qos: number,
  messageId: number | undefined,
) => boolean

/**
 * Installs the fast path on one client's parser; parse() still returns what mqtt-packet keeps
 * buffered. Returns false, leaving the parser alone, when it lacks the internals read here.
 */
export function installPublishFastPath(parser: MqttPacketParser | undefined, take?: PublishTaker): boolean {
  if (
    typeof parser?.parse !== 'function' ||
    typeof parser._list?.length !== 'number' ||
    typeof parser._stateCounter !== 'number' ||
    !('error' in parser) ||
    typeof parser.settings !== 'object'
  )
    return false
  const parseSlow = parser.parse.bind(parser)
  parser.parse = (buf: Buffer): number => {
    if (
      parser._list.length !== 0 ||
      parser._stateCounter !== 0 ||
      parser.error !== null ||
      parser.settings.protocolVersion === 5
    )
      return parseSlow(buf)
    const at = parseWholePublishes(parser, buf, take)
    if (at === buf.length) return 0
    return parseSlow(at === 0 ? buf : buf.subarray(at))
  }
  return true
}

/** Emits every whole PUBLISH from the start of buf; returns where the first other byte is. */
export function parseWholePublishes(emitter: EventEmitter, buf: Buffer, take?: PublishTaker): number {
  let at = 0
  while (at < buf.length) {
    const first = buf[at]!
    if (first >> 4 !== PUBLISH) break
    const qos = (first >> 1) & 3
    if (qos === 3) break // mqtt-packet reports it
    // Remaining length: 1–4 bytes, 7 bits each, least significant first.
    let length = 0
    let multiplier = 1
    let i = at + 1
    let complete = false
    for (let n = 0; n < 4 && i < buf.length; n++) {
      const byte = buf[i++]!
      length += (byte & 0x7f) * multiplier
      multiplier *= 128
      if ((byte & 0x80) === 0) {
        complete = true
        break
      }
    }
    if (!complete) break
    const end = i + length
    if (end > buf.length || length < 2) break
    const topicEnd = i + 2 + buf.readUInt16BE(i)
    const idEnd = qos > 0 ? topicEnd + 2 : topicEnd
    if (idEnd > end) break // mqtt-packet reports it
    const topic = buf.toString('utf8', i + 2, topicEnd)
    const messageId = qos > 0 ? buf.readUInt16BE(topicEnd) : undefined
    at = end
    const payload = buf.subarray(idEnd, end)
    if (take?.(topic, payload, qos, messageId)) continue
    emitter.emit(
      'packet',
      new PublishPacket((first & 1) !== 0, qos, (first & 8) !== 0, length, topic, payload, messageId),
    )
  }
  return at
}
