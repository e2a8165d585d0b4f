import { describe, expect, it } from 'vitest'
import { type AckSocket, PubackWriter } from '../../broker/puback-writer.ts'

class FakeSocket implements AckSocket {
  readonly writes: Buffer[] = []
  destroyed = false
  writable = true
  write(chunk: Buffer): boolean {
    this.writes.push(Buffer.from(chunk))
    return true
  }
}

const puback = (id: number) => Buffer.from([0x40, 0x02, id >> 8, id & 0xff])
const tick = () => new Promise<void>((resolve) => process.nextTick(resolve))

describe('PubackWriter', () => {
  it('writes the PUBACKs one socket got in a tick as one buffer, in order, nothing before the tick ends', async () => {
    const writer = new PubackWriter()
    const a = new FakeSocket()
    const b = new FakeSocket()
    writer.add(a, 1)
    writer.add(b, 513)
    writer.add(a, 65535)
    writer.add(a, 256)
    expect(a.writes).toEqual([])
    await tick()
    expect(a.writes).toEqual([Buffer.concat([puback(1), puback(65535), puback(256)])])
    expect(b.writes).toEqual([puback(513)])
    // The next tick's PUBACKs are the next write.
    writer.add(a, 2)
    await tick()
    expect(a.writes).toHaveLength(2)
    expect(a.writes[1]).toEqual(puback(2))
  })

  it('writes nothing to a socket closed meanwhile (the device resends), and goes on with the others', async () => {
    const writer = new PubackWriter()
    const closed = new FakeSocket()
    const open = new FakeSocket()
    writer.add(closed, 5)
    writer.add(open, 6)
    closed.destroyed = true
    await tick()
    expect(closed.writes).toEqual([])
    expect(open.writes).toEqual([puback(6)])
  })
})
