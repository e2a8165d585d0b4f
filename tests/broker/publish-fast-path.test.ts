import { readFileSync } from 'node:fs'
import mqttPacket from 'mqtt-packet'
import { describe, expect, it } from 'vitest'
import {
  FAST_PATH_VERSIONS,
  fastPathProblem,
  installedVersions,
  installPublishFastPath,
  type MqttPacketParser,
} from '../../broker/publish-fast-path.ts'

/** A deterministic pseudo-random sequence (the test must repeat exactly). */
function random(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0
    return s / 2 ** 32
  }
}

function packets(next: () => number, count: number): Buffer[] {
  const out: Buffer[] = []
  for (let i = 0; i < count; i++) {
    const kind = next()
    if (kind < 0.7) {
      const qos = (i % 3) as 0 | 1 | 2
      // payload sizes across the 1-, 2- and 3-byte remaining-length encodings
      const size = [0, 5, 120, 127, 128, 300, 16_383, 16_384, 20_000][Math.floor(next() * 9)]!
      out.push(
        mqttPacket.generate({
          cmd: 'publish',
          topic: next() < 0.1 ? 'kampung/désa/node-é/up' : `kampung/v${i % 7}/dev-${i}/up`,
          payload: Buffer.alloc(size, i % 251),
          qos,
          ...(qos > 0 ? { messageId: (i % 65535) + 1 } : {}),
          retain: next() < 0.1,
          dup: qos > 0 && next() < 0.1,
        }),
      )
    } else if (kind < 0.8) out.push(mqttPacket.generate({ cmd: 'pingreq' }))
    else if (kind < 0.9) out.push(mqttPacket.generate({ cmd: 'puback', messageId: (i % 65535) + 1 }))
    else
      out.push(
        mqttPacket.generate({
          cmd: 'subscribe',
          messageId: (i % 65535) + 1,
          subscriptions: [{ topic: `kampung/v/dev-${i}/down`, qos: 1 }],
        }),
      )
  }
  return out
}

/** Feeds the stream in chunks cut at random places; returns what the parser emitted. */
function parseAll(stream: Buffer, cuts: number[], fast: boolean): { packets: unknown[]; errors: string[] } {
  const parser = mqttPacket.parser({ protocolVersion: 4 }) as unknown as MqttPacketParser
  if (fast) installPublishFastPath(parser)
  const seen: unknown[] = []
  const errors: string[] = []
  parser.on('packet', (p: Record<string, unknown>) => {
    const { cmd, retain, qos, dup, length, topic, payload, messageId } = p
    seen.push(
      cmd === 'publish'
        ? {
            cmd,
            retain,
            qos,
            dup,
            length,
            topic,
            payload: Buffer.from(payload as Buffer).toString('hex'),
            messageId,
          }
        : { ...p },
    )
  })
  parser.on('error', (err: Error) => errors.push(err.message))
  let from = 0
  for (const cut of [...cuts, stream.length]) {
    parser.parse(stream.subarray(from, cut))
    from = cut
  }
  return { packets: seen, errors }
}

describe('PUBLISH fast path in front of mqtt-packet', () => {
  it('emits exactly what mqtt-packet emits, for any way the stream is cut into chunks', () => {
    const next = random(7)
    for (let round = 0; round < 40; round++) {
      const stream = Buffer.concat(packets(next, 60))
      const cuts = Array.from({ length: Math.floor(next() * 30) }, () =>
        Math.floor(next() * stream.length),
      ).sort((a, b) => a - b)
      const slow = parseAll(stream, cuts, false)
      const fast = parseAll(stream, cuts, true)
      expect(fast.errors).toEqual([])
      expect(fast.packets).toEqual(slow.packets)
      expect(fast.packets).toHaveLength(60)
    }
  })

  it('leaves malformed packets to mqtt-packet, which reports them as before', () => {
    const good = mqttPacket.generate({
      cmd: 'publish',
      topic: 'kampung/v/d/up',
      payload: 'x',
      qos: 1,
      messageId: 9,
      retain: false,
      dup: false,
    })
    const bothQosBits = Buffer.from(good)
    bothQosBits[0] = bothQosBits[0]! | 0x06
    const topicPastEnd = Buffer.from([0x32, 0x03, 0x00, 0x09, 0x61])
    for (const bad of [bothQosBits, topicPastEnd]) {
      const stream = Buffer.concat([good, bad])
      const slow = parseAll(stream, [], false)
      const fast = parseAll(stream, [], true)
      expect(fast).toEqual(slow)
      expect(fast.errors.length).toBeGreaterThan(0)
    }
  })
})

describe('the versions the fast path reads the internals of', () => {
  it('are the ones installed, and package.json pins exactly them', () => {
    expect(installedVersions()).toEqual(FAST_PATH_VERSIONS)
    expect(fastPathProblem(installedVersions())).toBeUndefined()
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as Record<string, Record<string, string>>
    expect(pkg.dependencies!.aedes).toBe(FAST_PATH_VERSIONS.aedes)
    expect(pkg.devDependencies!['mqtt-packet'] ?? pkg.dependencies!['mqtt-packet']).toBe(
      FAST_PATH_VERSIONS['mqtt-packet'],
    )
  })

  it('another version, or none, is named as the reason to leave it off', () => {
    expect(fastPathProblem({ aedes: '1.2.0', 'mqtt-packet': '9.1.0' })).toBe(
      'mqtt-packet 9.1.0 installed, written for 9.0.2',
    )
    expect(fastPathProblem({ aedes: undefined, 'mqtt-packet': '9.0.2' })).toBe(
      'aedes not found installed, written for 1.2.0',
    )
  })

  it('a parser without the internals is left alone', () => {
    expect(installPublishFastPath(undefined)).toBe(false)
    const foreign = { parse: () => 0, settings: {} } as unknown as MqttPacketParser
    const parse = foreign.parse
    expect(installPublishFastPath(foreign)).toBe(false)
    expect(foreign.parse).toBe(parse)
    expect(installPublishFastPath(mqttPacket.parser() as unknown as MqttPacketParser)).toBe(true)
  })
})
