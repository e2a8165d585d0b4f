import { describe, expect, it } from 'vitest'
import type { CommandMessage } from '../../src/commands/index.ts'
import { COMMAND_KINDS, COMMAND_PARAMS } from '../../src/commands/index.ts'
import {
  COMMAND_CODES,
  CORRELATION_PREFIX,
  encodeCommand,
  lorawanSchema,
  NETWORK_SERVERS,
  queueItemId,
  SERVER_KINDS,
} from '../../src/lorawan/index.ts'
import { PAYLOAD_FORMATS } from '../../src/telemetry/index.ts'

const command = (kind: CommandMessage['kind'], params: Record<string, unknown> = {}): CommandMessage => ({
  id: 'c-1',
  kind,
  params,
  expiresAtMs: 1_800_000_000_000,
})

describe('network server plug-ins', () => {
  it('every configurable kind has a complete plug-in, with a telemetry decoder', () => {
    expect(Object.keys(NETWORK_SERVERS).sort()).toEqual([...SERVER_KINDS].sort())
    for (const kind of SERVER_KINDS) {
      const s = NETWORK_SERVERS[kind]
      expect(s.kind).toBe(kind)
      expect(PAYLOAD_FORMATS).toContain(s.format)
      expect(s.topicFilters.length).toBeGreaterThan(0)
      for (const f of [s.parseTopic, s.interpret, s.downlink]) expect(typeof f).toBe('function')
    }
  })

  it('ChirpStack: topics, events and the downlink of its MQTT integration docs', () => {
    const cs = NETWORK_SERVERS.chirpstack
    const app = '17c82e96-be03-4f38-aef3-f83d48582d97'
    expect(cs.parseTopic(`application/${app}/device/0101010101010101/event/up`)).toEqual({
      app,
      dev: '0101010101010101',
      event: 'up',
    })
    expect(cs.parseTopic(`application/${app}/device/0101010101010101/state/join`)?.event).toBe('join')
    expect(cs.parseTopic(`application/${app}/device/0101010101010101/command/down`)).toBeUndefined()
    expect(cs.parseTopic('v3/app1/devices/dev1/up')).toBeUndefined()
    // Bodies from https://www.chirpstack.io/docs/chirpstack/integrations/events.html (abridged)
    expect(
      cs.interpret('ack', {
        queueItemId: '1bbcab1d-6ec6-4136-b3f5-d63be1dc08de',
        acknowledged: true,
        fCntDown: 3,
      }),
    ).toEqual({
      type: 'answer',
      outcome: 'acknowledged',
      queueItemId: '1bbcab1d-6ec6-4136-b3f5-d63be1dc08de',
    })
    expect(cs.interpret('ack', { queueItemId: 'q', fCntDown: 3 })).toMatchObject({ outcome: 'failed' })
    expect(cs.interpret('txack', { queueItemId: 'q', fCntDown: 2 })).toMatchObject({ outcome: 'transmitted' })
    expect(cs.interpret('ack', { acknowledged: true })).toMatchObject({ type: 'malformed' })
    expect(cs.interpret('status', { margin: 10, batteryLevel: 88.3 })).toEqual({ type: 'seen' })
    expect(cs.interpret('log', { level: 'ERROR' })).toEqual({ type: 'ignored' })
    expect(cs.interpret('up', [1, 2])).toMatchObject({ type: 'malformed' })
    const down = cs.downlink(
      { app, dev: '0101010101010101' },
      { commandId: 'c-1', fPort: 10, confirmed: true, bytes: Buffer.from([0x03, 0x07, 0x08]) },
    )
    expect(down.topic).toBe(`application/${app}/device/0101010101010101/command/down`)
    expect(JSON.parse(down.payload)).toEqual({
      id: queueItemId('c-1'),
      devEui: '0101010101010101',
      confirmed: true,
      fPort: 10,
      data: 'AwcI',
    })
  })

  it('ChirpStack queue item ids are UUIDs, one per command id, always the same', () => {
    const a = queueItemId('c-1')
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    expect(queueItemId('c-1')).toBe(a)
    expect(queueItemId('c-2')).not.toBe(a)
  })

  it('The Things Stack: topics with and without a tenant, downlink events, down/push', () => {
    const tts = NETWORK_SERVERS.tts
    expect(tts.parseTopic('v3/app1@ttn/devices/dev1/up')).toEqual({
      app: 'app1@ttn',
      dev: 'dev1',
      event: 'up',
    })
    expect(tts.parseTopic('v3/app1/devices/dev1/down/ack')).toEqual({
      app: 'app1',
      dev: 'dev1',
      event: 'down/ack',
    })
    expect(tts.parseTopic('application/x/device/y/event/up')).toBeUndefined()
    // Bodies from https://www.thethingsindustries.com/docs/integrations/data-formats/ (abridged)
    const ours = `${CORRELATION_PREFIX}c-1`
    expect(
      tts.interpret('down/ack', {
        correlation_ids: ['as:downlink:01E19B99501X84X6CV471TVSZ1'],
        downlink_ack: {
          f_port: 15,
          frm_payload: 'vu8=',
          confirmed: true,
          correlation_ids: ['as:downlink:01E1', ours],
        },
      }),
    ).toMatchObject({
      type: 'answer',
      outcome: 'acknowledged',
      correlationIds: expect.arrayContaining([ours]),
    })
    expect(tts.interpret('down/nack', { downlink_nack: { correlation_ids: [ours] } })).toMatchObject({
      outcome: 'failed',
    })
    expect(tts.interpret('down/sent', { downlink_sent: { correlation_ids: [ours] } })).toMatchObject({
      outcome: 'transmitted',
    })
    expect(
      tts.interpret('down/failed', {
        downlink_failed: {
          downlink: { f_port: 15, correlation_ids: [ours] },
          error: {
            name: 'application_downlink_too_long',
            message_format: 'application downlink payload is too long',
          },
        },
      }),
    ).toMatchObject({
      outcome: 'failed',
      error: 'TTS down/failed: application_downlink_too_long: application downlink payload is too long',
    })
    expect(tts.interpret('down/ack', { correlation_ids: [] })).toMatchObject({ type: 'malformed' })
    const down = tts.downlink(
      { app: 'app1@ttn', dev: 'dev1' },
      { commandId: 'c-1', fPort: 10, confirmed: false, object: { id: 'c-1', kind: 'reboot' } },
    )
    expect(down.topic).toBe('v3/app1@ttn/devices/dev1/down/push')
    expect(JSON.parse(down.payload)).toEqual({
      downlinks: [
        {
          f_port: 10,
          decoded_payload: { id: 'c-1', kind: 'reboot' },
          confirmed: false,
          priority: 'NORMAL',
          correlation_ids: [ours],
        },
      ],
    })
  })
})

describe('downlink encoding', () => {
  it('binary: one code byte per kind, parameters big-endian', () => {
    const hex = (c: CommandMessage) => {
      const e = encodeCommand(c, 'binary')
      return 'bytes' in e ? e.bytes.toString('hex') : undefined
    }
    expect(hex(command('set_config', { reportIntervalS: 600 }))).toBe('010100000258')
    // a versioned configuration (src/commands/config.ts): version, local dry rule in tenths of a %
    expect(
      hex(
        command('set_config', { version: 3, reportIntervalS: 300, dryThresholdPct: 21.5, irrigateS: 1800 }),
      ),
    ).toBe(`01${'0200000003'}${'010000012c'}${'03000000d7'}${'0400000708'}`)
    expect(() => encodeCommand(command('set_config', { dryThresholdPct: 21.55 }), 'binary')).toThrow(
      /dryThresholdPct is not a multiple of 0.1/,
    )
    expect(hex(command('reboot'))).toBe('02')
    expect(hex(command('valve_open', { maxDurationS: 1800 }))).toBe('030708')
    expect(hex(command('valve_open', { maxDurationS: 43_200 }))).toBe('03a8c0')
    expect(hex(command('valve_close'))).toBe('04')
    expect(() => encodeCommand(command('set_config', { thresholdPct: 30 }), 'binary')).toThrow(
      /no binary key/,
    )
  })

  it('every command kind has a binary code', () => {
    expect(Object.keys(COMMAND_CODES).sort()).toEqual([...COMMAND_KINDS].sort())
    expect(Object.keys(COMMAND_PARAMS).sort()).toEqual([...COMMAND_KINDS].sort())
  })

  it('json: the down topic command message, for the server codec', () => {
    const c = command('valve_open', { maxDurationS: 60 })
    expect(encodeCommand(c, 'json')).toEqual({ object: { ...c } })
  })
})

describe('lorawan config', () => {
  it('is off by default', () => {
    const c = lorawanSchema.parse({})
    expect(c.servers).toEqual([])
    expect(c.downlink).toEqual({ fPort: 10, confirmed: true, encoding: 'binary', devices: {} })
  })

  it('refuses credentials in the URL, a duplicate name, an unknown kind, all at once', () => {
    const r = lorawanSchema.safeParse({
      servers: [
        { name: 'cs', kind: 'chirpstack', url: 'mqtt://user:pw@ns.example:1883' },
        { name: 'cs', kind: 'loriot', url: 'mqtt://ns.example' },
      ],
      downlink: { fPort: 0 },
    })
    expect(r.success).toBe(false)
    const paths = r.error!.issues.map((i) => i.path.join('.'))
    expect(paths).toEqual(expect.arrayContaining(['servers.0.url', 'servers.1.kind', 'downlink.fPort']))
  })
})
