import { describe, expect, it } from 'vitest'
import { FrameGuard } from '../../broker/index.ts'

/** An MQTT packet: type byte, remaining-length varint, then `size` body bytes. */
function packet(size: number): Buffer {
  const length: number[] = []
  let n = size
  do {
    let byte = n % 128
    n = Math.floor(n / 128)
    if (n > 0) byte |= 0x80
    length.push(byte)
  } while (n > 0)
  return Buffer.concat([Buffer.from([0x30, ...length]), Buffer.alloc(size)])
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
})
