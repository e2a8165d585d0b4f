import { describe, expect, it } from 'vitest'
import { FrameGuard } from '../../broker/index.ts'

/** An MQTT packet: type byte (PUBLISH unless given), remaining-length varint, then `size` body bytes. */
function packet(size: number, type = 0x30): Buffer {
  const length: number[] = []
  let n = size
  do {
    let byte = n % 128
    n = Math.floor(n / 128)
    if (n > 0) byte |= 0x80
    length.push(byte)
  } while (n > 0)
  return Buffer.concat([Buffer.from([type, ...length]), Buffer.alloc(size)])
}

describe('FrameGuard', () => {
  it('passes packets up to the limit, however the stream is split', () => {
    const stream = Buffer.concat([packet(0), packet(127), packet(128), packet(1000), packet(0)])
    for (const chunkSize of [1, 2, 3, 7, 64, stream.length]) {
      const guard = new FrameGuard(1000)
      for (let i = 0; i < stream.length; i += chunkSize) {
        expect(guard.feed(stream.subarray(i, i + chunkSize))).toBeUndefined()
      }
    }
  })

  it('reports a packet over the limit from its header alone', () => {
    const guard = new FrameGuard(1000)
    expect(guard.feed(packet(10))).toBeUndefined()
    const big = packet(300_000).subarray(0, 4) // type + 3 length bytes, no body yet
    expect(guard.feed(big)).toBeGreaterThan(1000)
  })

  it('holds a CONNECT to its own, smaller limit', () => {
    const guard = new FrameGuard(100_000, 4096)
    expect(guard.feed(packet(4096, 0x10))).toBeUndefined()
    expect(guard.feed(packet(50_000))).toBeUndefined()
    expect(guard.feed(packet(4097, 0x10).subarray(0, 3))).toBe(4097)
    expect(guard.packetLimit).toBe(4096)
  })

  it('tells whether the stream ends inside a packet, and which packet that is', () => {
    const guard = new FrameGuard(1000)
    const two = Buffer.concat([packet(10), packet(10)])
    guard.feed(two.subarray(0, 5))
    expect(guard.partial).toBe(true)
    expect(guard.started).toBe(1)
    guard.feed(two.subarray(5, 20)) // first complete, second started
    expect(guard.partial).toBe(true)
    expect(guard.started).toBe(2)
    guard.feed(two.subarray(20))
    expect(guard.partial).toBe(false)
  })
})
