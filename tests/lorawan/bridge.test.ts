import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import mqtt, { type MqttClient } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Command } from '../../src/commands/index.ts'
import type { ConfigInput } from '../../src/config.ts'
import type { MqttConsumer } from '../../src/ingest/index.ts'
import { CORRELATION_PREFIX, queueItemId } from '../../src/lorawan/index.ts'
import { startApp, type TestApp, waitFor } from '../harness/app.ts'
import { type InfluxdHandle, startInfluxd } from '../harness/influxd.ts'
import { influxCount, influxQuery } from '../harness/influxql.ts'
import { type MosquittoHandle, startMosquitto } from '../harness/mosquitto.ts'

/**
 * The LoRaWAN bridge against a real Mosquitto standing in for the network servers' brokers
 * (ChirpStack's and The Things Stack's), storing in a real InfluxDB. The test plays the network
 * server: it publishes the JSON its documentation shows and reads the downlinks the bridge queues.
 */

const V = 'kemiren'
const APP = '17c82e96-be03-4f38-aef3-f83d48582d97'
const TTS_APP = 'kemiren-sawah@ttn'
const DB = 'kampung'

/**
 * A ChirpStack v4 `up` event: the JSON example of https://www.chirpstack.io/docs/chirpstack/integrations/events.html
 * with our device, time and payload (LPP: ch1 analog 31.50, ch2 temperature 27.3 °C, ch4 humidity 77 %).
 */
function chirpstackUp(deviceName: string, devEui: string, time: string, data = 'AQIMTgJnAREEaJo=') {
  return {
    deduplicationId: '3ac7e3c4-4401-4b8d-9386-a5c902f9202d',
    time,
    deviceInfo: {
      tenantId: '52f14cd4-c6f1-4fbd-8f87-4025e1d49242',
      tenantName: 'ChirpStack',
      applicationId: APP,
      applicationName: 'Kemiren sawah',
      deviceProfileId: '14855bf7-d10d-4aee-b618-ebfcb64dc7ad',
      deviceProfileName: 'LPP soil node',
      deviceName,
      devEui,
      tags: { key: 'value' },
    },
    devAddr: '00189440',
    dr: 1,
    fPort: 1,
    data,
    rxInfo: [
      {
        gatewayId: '0016c001f153a14c',
        uplinkId: 4217106255,
        rssi: -36,
        snr: 10.5,
        context: 'E3OWOQ==',
        metadata: { region_name: 'as923', region_common_name: 'AS923' },
      },
    ],
    txInfo: {
      frequency: 923200000,
      modulation: { lora: { bandwidth: 125000, spreadingFactor: 11, codeRate: 'CR_4_5' } },
    },
  }
}

/** ChirpStack's `deviceInfo`, as every event carries it. */
const deviceInfo = (deviceName: string, devEui: string) => chirpstackUp(deviceName, devEui, '').deviceInfo

/** A TTS v3 uplink: the example of https://www.thethingsindustries.com/docs/integrations/data-formats/, our device and codec output. */
function ttsUp(deviceId: string, receivedAt: string) {
  return {
    end_device_ids: {
      device_id: deviceId,
      application_ids: { application_id: 'kemiren-sawah' },
      dev_eui: '0004A30B001C0530',
      join_eui: '800000000000000C',
      dev_addr: '00BCB929',
    },
    correlation_ids: ['as:up:01E0WZGT6Y7657CPFPE5WEYDSQ', 'gs:conn:01E0WDEC6T5T4XXBAX7S1VMFKE'],
    received_at: receivedAt,
    uplink_message: {
      session_key_id: 'AXA50tHUGUucuzS/bCGMNw==',
      f_cnt: 1,
      f_port: 2,
      frm_payload: 'gkHe',
      decoded_payload: { soil_moisture: 28.4, battery_voltage: 3.61 },
      rx_metadata: [
        {
          gateway_ids: { gateway_id: 'gtw1', eui: '9C5C8E00001A05C4' },
          time: receivedAt,
          timestamp: 2463457000,
          rssi: -101,
          channel_rssi: -100,
          snr: 5,
          uplink_token: 'ChIKEAoEZ3R3MRIInFyOAAAaBcQQ6L3Vlgk=',
          channel_index: 2,
        },
      ],
      settings: {
        data_rate: { lora: { bandwidth: 125000, spreading_factor: 7 } },
        data_rate_index: 5,
        coding_rate: '4/6',
        frequency: '923200000',
      },
      received_at: receivedAt,
      consumed_airtime: '0.056576s',
    },
  }
}

/** A TTS downlink event (`downlink_ack`, `downlink_nack`, `downlink_sent`), as in the data-formats docs. */
function ttsDownEvent(field: string, deviceId: string, commandId: string) {
  return {
    end_device_ids: { device_id: deviceId, application_ids: { application_id: 'kemiren-sawah' } },
    correlation_ids: ['as:downlink:01E19B99501X84X6CV471TVSZ1'],
    received_at: new Date().toISOString(),
    [field]: {
      session_key_id: 'AXBSp8v2brG0jqkri+sIkw==',
      f_port: 10,
      f_cnt: 1,
      frm_payload: 'Ag==',
      confirmed: true,
      priority: 'NORMAL',
      correlation_ids: ['as:downlink:01E19B99501X84X6CV471TVSZ1', `${CORRELATION_PREFIX}${commandId}`],
    },
  }
}

describe('LoRaWAN network servers over MQTT (Mosquitto as their broker)', () => {
  let influx: InfluxdHandle
  let mosquitto: MosquittoHandle
  let t: TestApp
  let ns: MqttClient
  const downlinks: Array<{ topic: string; body: Record<string, unknown> }> = []

  const stats = () => t.app.lorawan!.stats()
  const stat = (key: string) => stats()[key] ?? 0
  const consumer = (server: string) =>
    (t.app.lorawan as unknown as { links: Map<string, { consumer: MqttConsumer }> }).links.get(server)!
      .consumer
  const publish = (topic: string, body: unknown) =>
    ns.publishAsync(topic, typeof body === 'string' ? body : JSON.stringify(body), { qos: 1 })
  const command = (id: string): Command => t.app.commands!.get(id)!
  const downlinksFor = (pred: (d: (typeof downlinks)[number]) => boolean) => downlinks.filter(pred)

  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'kampung-lorawan-'))
  let config: ConfigInput

  beforeAll(async () => {
    ;[influx, mosquitto] = await Promise.all([startInfluxd(), startMosquitto()])
    config = {
      store: { kind: 'influx', influx: { url: influx.url, requestTimeoutMs: 60_000 } },
      oksigen: { enabled: false },
      commands: { checkEveryMs: 100, resendAfterS: 1 },
      lorawan: {
        servers: [
          { name: 'cs', kind: 'chirpstack', url: mosquitto.url, username: 'kampung', password: 'cs-secret' },
          {
            name: 'ttn',
            kind: 'tts',
            url: mosquitto.url,
            clientId: 'kampung-ttn',
            username: TTS_APP,
            password: 'NNSXS.EXAMPLE-API-KEY',
          },
        ],
        downlink: { devices: { 'kemiren-tts1': 'json' } },
      },
    }
    t = await startApp(config, dataDir)
    await t.addDevice({
      id: 'lora-soil1',
      village: V,
      format: 'chirpstack',
      channels: { '1': { quantity: 'soil_moisture', sensor: 'soil1' } },
    })
    // Registered by its DevEUI: ChirpStack names it otherwise.
    await t.addDevice({
      id: '0202020202020202',
      village: V,
      format: 'chirpstack',
      channels: { '1': { quantity: 'soil_moisture', sensor: 'soil1' } },
    })
    await t.addDevice({ id: '0303030303030303', village: V, format: 'chirpstack' })
    await t.addDevice({ id: 'kemiren-tts1', village: V, format: 'tts' })
    ns = await mqtt.connectAsync(mosquitto.url, { clientId: 'network-server', protocolVersion: 4 })
    ns.on('message', (topic, payload) => downlinks.push({ topic, body: JSON.parse(payload.toString()) }))
    await ns.subscribeAsync(['application/+/device/+/command/down', 'v3/+/devices/+/down/push'], { qos: 1 })
  })

  afterAll(async () => {
    await ns?.endAsync()
    await t?.stop()
    await Promise.all([mosquitto?.stop(), influx?.stop()])
    rmSync(dataDir, { recursive: true, force: true })
  })

  it('a ChirpStack uplink is stored like the HTTP one: readings through the channel map, the best RSSI', async () => {
    const time = new Date(Date.now() - 5_000).toISOString()
    await publish(
      `application/${APP}/device/0101010101010101/event/up`,
      chirpstackUp('lora-soil1', '0101010101010101', time),
    )
    await waitFor('the uplink stored', () => stat('cs up stored') === 1)
    const rows = await influxQuery(
      influx.url,
      DB,
      `SELECT "value", "sensor" FROM "${DB}"."raw"./.*/ WHERE "device" = 'lora-soil1'`,
    )
    const byQuantity = Object.fromEntries(rows.map((r) => [`${r.sensor}`, r.value]))
    expect(byQuantity).toMatchObject({ soil1: 31.5, ch2: 27.3, ch4: 77, radio: -36 })
    expect(await influxCount(influx.url, DB, 'soil_moisture', `WHERE "device" = 'lora-soil1'`)).toBe(1)

    // The same event through the HTTP integration, for a twin device: the same points.
    const secret = await t.addDevice({
      id: 'lora-http1',
      village: V,
      format: 'chirpstack',
      channels: { '1': { quantity: 'soil_moisture', sensor: 'soil1' } },
    })
    const res = await fetch(`${t.apiUrl}/api/v1/telemetry?event=up`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`lora-http1:${secret}`).toString('base64')}` },
      body: JSON.stringify(chirpstackUp('lora-http1', '0404040404040404', time)),
    })
    expect(res.status).toBe(200)
    const points = async (device: string) =>
      (
        await influxQuery(
          influx.url,
          DB,
          `SELECT "value", "sensor" FROM "${DB}"."raw"./.*/ WHERE "device" = '${device}'`,
        )
      )
        .map((r) => `${r.time} ${r.sensor} ${r.value}`)
        .sort()
    expect(await points('lora-http1')).toEqual(await points('lora-soil1'))
  })

  it('is acknowledged (PUBACK) only once stored: with InfluxDB frozen the broker delivers it again', async () => {
    const c = consumer('cs')
    const time = new Date(Date.now() - 60_000).toISOString()
    const where = `WHERE "device" = 'lora-soil1' AND time = '${time}'`
    const storedBefore = stat('cs up stored')
    process.kill(influx.pid!, 'SIGSTOP')
    try {
      await publish(
        `application/${APP}/device/0101010101010101/event/up`,
        chirpstackUp('lora-soil1', '0101010101010101', time),
      )
      await waitFor('the uplink taken and waiting for the store', () => c.inFlightMessages === 1)
      // The connection drops before the store answers: no PUBACK went out, so Mosquitto keeps the
      // message in the persistent session and delivers it again on the new connection.
      ;(c as unknown as { client: MqttClient }).client.stream.destroy()
      await waitFor('the message delivered again', () => c.inFlightMessages === 2)
    } finally {
      process.kill(influx.pid!, 'SIGCONT')
    }
    await waitFor('both deliveries stored', () => stat('cs up stored') === storedBefore + 2)
    expect(await influxCount(influx.url, DB, 'soil_moisture', where)).toBe(1)
    // Now acknowledged: a new connection gets nothing again.
    ;(consumer('cs') as unknown as { client: MqttClient }).client.stream.destroy()
    await waitFor('reconnected', () => (consumer('cs') as unknown as { client: MqttClient }).client.connected)
    await new Promise((r) => setTimeout(r, 500))
    expect(stat('cs up stored')).toBe(storedBefore + 2)
  })

  it('an unknown devEui, malformed JSON and a shapeless ack are counted with their reason; the next uplink is stored', async () => {
    const before = stat('cs up stored')
    await publish(
      `application/${APP}/device/ffffffffffffffff/event/up`,
      chirpstackUp('stranger', 'ffffffffffffffff', new Date().toISOString()),
    )
    await publish(`application/${APP}/device/0101010101010101/event/up`, '{"deviceInfo": {"devEui": "01010')
    await publish(`application/${APP}/device/0101010101010101/event/ack`, {
      deviceInfo: deviceInfo('lora-soil1', '0101010101010101'),
      acknowledged: true,
    })
    // Neither `data` nor `object`: a codec or integration problem (HTTP: 422 empty_uplink).
    const { data: _, ...empty } = chirpstackUp('lora-soil1', '0101010101010101', new Date().toISOString())
    await publish(`application/${APP}/device/0101010101010101/event/up`, empty)
    // Matched by the topic's DevEUI: ChirpStack's name for it is not registered.
    const time = new Date(Date.now() - 2_000).toISOString()
    await publish(
      `application/${APP}/device/0202020202020202/event/up`,
      chirpstackUp('pump-north', '0202020202020202', time),
    )
    await waitFor('the good uplink stored', () => stat('cs up stored') === before + 1)
    expect(stats()).toMatchObject({
      'cs up unknown_device': 1,
      'cs up malformed': 1,
      'cs up empty_uplink': 1,
      'cs ack malformed': 1,
    })
    expect(
      await influxCount(influx.url, DB, 'relative_humidity', `WHERE "device" = '0202020202020202'`),
    ).toBe(1)
    const metrics = await t.app.metrics.registry.metrics()
    expect(metrics).toContain(
      'kampung_lorawan_messages_total{server="cs",event="up",outcome="unknown_device"} 1',
    )
    expect(metrics).toContain('kampung_readings_rejected_total{reason="unknown_device"} 1')
  })

  it('a TTS uplink is stored from its codec output', async () => {
    const receivedAt = new Date(Date.now() - 3_000).toISOString()
    await publish(`v3/${TTS_APP}/devices/kemiren-tts1/up`, ttsUp('kemiren-tts1', receivedAt))
    await waitFor('the TTS uplink stored', () => stat('ttn up stored') === 1)
    const rows = await influxQuery(
      influx.url,
      DB,
      `SELECT "value" FROM "${DB}"."raw"."soil_moisture" WHERE "device" = 'kemiren-tts1'`,
    )
    expect(rows.map((r) => r.value)).toEqual([28.4])
    expect(await influxCount(influx.url, DB, 'signal_strength', `WHERE "device" = 'kemiren-tts1'`)).toBe(1)
  })

  it('a command to a ChirpStack device is queued as its downlink, once; the ack event answers it', async () => {
    const topic = `application/${APP}/device/0101010101010101/command/down`
    t.app.commands!.submit({
      id: 'cs-open-1',
      device: 'lora-soil1',
      kind: 'valve_open',
      params: { maxDurationS: 1800 },
    })
    await waitFor('sent', () => command('cs-open-1').state === 'sent')
    await waitFor('the downlink seen', () => downlinksFor((d) => d.topic === topic).length === 1)
    expect(downlinksFor((d) => d.topic === topic)[0]!.body).toEqual({
      id: queueItemId('cs-open-1'),
      devEui: '0101010101010101',
      confirmed: true,
      fPort: 10,
      data: Buffer.from('030708', 'hex').toString('base64'),
    })
    // resendAfterS is 1: a network server's queue keeps the downlink, so it is not pushed again.
    await new Promise((r) => setTimeout(r, 1_500))
    expect(downlinksFor((d) => d.topic === topic)).toHaveLength(1)
    expect(command('cs-open-1').sends).toBe(1)
    // ChirpStack: the gateway took it (txack), then the device acknowledged it (ack).
    const events = `application/${APP}/device/0101010101010101/event`
    await publish(`${events}/txack`, {
      downlinkId: 3461958127,
      time: new Date().toISOString(),
      deviceInfo: deviceInfo('lora-soil1', '0101010101010101'),
      queueItemId: queueItemId('cs-open-1'),
      fCntDown: 2,
      gatewayId: '0016c001f153a14c',
    })
    await waitFor('txack counted', () => stat('cs txack transmitted') === 1)
    expect(command('cs-open-1').state).toBe('sent')
    await publish(`${events}/ack`, {
      deduplicationId: '856a03e7-80f6-4c26-b971-9dcb34a59c2e',
      time: new Date().toISOString(),
      deviceInfo: deviceInfo('lora-soil1', '0101010101010101'),
      queueItemId: queueItemId('cs-open-1'),
      acknowledged: true,
      fCntDown: 3,
    })
    await waitFor('acknowledged', () => command('cs-open-1').state === 'acknowledged')

    t.app.commands!.submit({
      id: 'cs-cfg-1',
      device: 'lora-soil1',
      kind: 'set_config',
      params: { reportIntervalS: 600 },
    })
    await waitFor('sent', () => command('cs-cfg-1').state === 'sent')
    const cfg = downlinksFor((d) => d.topic === topic && d.body.id === queueItemId('cs-cfg-1'))
    expect(cfg).toHaveLength(1)
    expect(Buffer.from(cfg[0]!.body.data as string, 'base64').toString('hex')).toBe('010100000258')
    // proto3 JSON leaves `acknowledged: false` out: the confirmed downlink timed out.
    await publish(`${events}/ack`, {
      time: new Date().toISOString(),
      deviceInfo: deviceInfo('lora-soil1', '0101010101010101'),
      queueItemId: queueItemId('cs-cfg-1'),
      fCntDown: 4,
    })
    await waitFor('failed', () => command('cs-cfg-1').state === 'failed')
    expect(command('cs-cfg-1').error).toMatch(/did not acknowledge/)
    // An ack for a queue item that is not ours (scheduled in ChirpStack's UI) changes nothing.
    await publish(`${events}/ack`, {
      deviceInfo: deviceInfo('lora-soil1', '0101010101010101'),
      queueItemId: '1bbcab1d-6ec6-4136-b3f5-d63be1dc08de',
      acknowledged: true,
    })
    await waitFor('counted', () => stat('cs ack not_ours') === 1)
  })

  it('a device never heard waits queued; its join makes it reachable', async () => {
    t.app.commands!.submit({ id: 'cs-reboot-1', device: '0303030303030303', kind: 'reboot' })
    await new Promise((r) => setTimeout(r, 400))
    expect(command('cs-reboot-1').state).toBe('queued')
    await publish(`application/${APP}/device/0303030303030303/event/join`, {
      deduplicationId: 'c9dbe358-2578-4fb7-b295-66b44edc45a6',
      time: new Date().toISOString(),
      deviceInfo: deviceInfo('0303030303030303', '0303030303030303'),
      devAddr: '00189441',
    })
    await waitFor('sent after the join', () => command('cs-reboot-1').state === 'sent')
    const d = downlinksFor((x) => x.topic === `application/${APP}/device/0303030303030303/command/down`)
    expect(d.map((x) => x.body.data)).toEqual(['Ag=='])
    expect(stat('cs join seen')).toBe(1)
  })

  it('TTS: down/push with our correlation id (JSON for its payload formatter); ack, nack and failed answer', async () => {
    const push = `v3/${TTS_APP}/devices/kemiren-tts1/down/push`
    const events = `v3/${TTS_APP}/devices/kemiren-tts1/down`
    t.app.commands!.submit({ id: 'tts-close-1', device: 'kemiren-tts1', kind: 'valve_close' })
    await waitFor('sent', () => command('tts-close-1').state === 'sent')
    await waitFor('pushed', () => downlinksFor((d) => d.topic === push).length === 1)
    const [only] =
      (downlinksFor((d) => d.topic === push)[0]!.body.downlinks as Array<Record<string, unknown>>) ?? []
    expect(only).toEqual({
      f_port: 10,
      decoded_payload: {
        id: 'tts-close-1',
        kind: 'valve_close',
        params: {},
        expiresAtMs: command('tts-close-1').expiresAtMs,
      },
      confirmed: true,
      priority: 'NORMAL',
      correlation_ids: [`${CORRELATION_PREFIX}tts-close-1`],
    })
    await publish(`${events}/sent`, ttsDownEvent('downlink_sent', 'kemiren-tts1', 'tts-close-1'))
    await waitFor('sent counted', () => stat('ttn down/sent transmitted') === 1)
    expect(command('tts-close-1').state).toBe('sent')
    await publish(`${events}/ack`, ttsDownEvent('downlink_ack', 'kemiren-tts1', 'tts-close-1'))
    await waitFor('acknowledged', () => command('tts-close-1').state === 'acknowledged')

    t.app.commands!.submit({
      id: 'tts-open-1',
      device: 'kemiren-tts1',
      kind: 'valve_open',
      params: { maxDurationS: 60 },
    })
    await waitFor('sent', () => command('tts-open-1').state === 'sent')
    await publish(`${events}/nack`, ttsDownEvent('downlink_nack', 'kemiren-tts1', 'tts-open-1'))
    await waitFor('failed on nack', () => command('tts-open-1').state === 'failed')

    t.app.commands!.submit({
      id: 'tts-cfg-1',
      device: 'kemiren-tts1',
      kind: 'set_config',
      params: { reportIntervalS: 900 },
    })
    await waitFor('sent', () => command('tts-cfg-1').state === 'sent')
    await publish(`${events}/failed`, {
      end_device_ids: { device_id: 'kemiren-tts1', application_ids: { application_id: 'kemiren-sawah' } },
      correlation_ids: ['as:downlink:01E19Z5W3BZBG7CXSJE9C0A3CE'],
      downlink_failed: {
        downlink: {
          f_port: 10,
          confirmed: true,
          priority: 'NORMAL',
          correlation_ids: ['as:downlink:01E19Z5W3BZBG7CXSJE9C0A3CE', `${CORRELATION_PREFIX}tts-cfg-1`],
        },
        error: {
          namespace: 'pkg/networkserver',
          name: 'application_downlink_too_long',
          message_format: 'application downlink payload is too long',
          correlation_id: '2e7f786912e946e597894e381d0ad7b0',
          code: 3,
        },
      },
    })
    await waitFor('failed', () => command('tts-cfg-1').state === 'failed')
    expect(command('tts-cfg-1').error).toBe(
      'TTS down/failed: application_downlink_too_long: application downlink payload is too long',
    )
  })

  it('after a restart: a sent command is not pushed again and its ack still answers it; heard devices stay reachable', async () => {
    const topic = `application/${APP}/device/0101010101010101/command/down`
    t.app.commands!.submit({ id: 'cs-restart-1', device: 'lora-soil1', kind: 'valve_close' })
    await waitFor('sent', () => command('cs-restart-1').state === 'sent')
    await t.stop()
    t = await startApp(config, dataDir)
    t.app.commands!.submit({ id: 'cs-restart-2', device: 'lora-soil1', kind: 'reboot' })
    await waitFor('sent by the new process', () => command('cs-restart-2').state === 'sent')
    await publish(`application/${APP}/device/0101010101010101/event/ack`, {
      deviceInfo: deviceInfo('lora-soil1', '0101010101010101'),
      queueItemId: queueItemId('cs-restart-1'),
      acknowledged: true,
    })
    await waitFor('acknowledged', () => command('cs-restart-1').state === 'acknowledged')
    await new Promise((r) => setTimeout(r, 1_500))
    const pushed = (id: string) =>
      downlinksFor((d) => d.topic === topic && d.body.id === queueItemId(id)).length
    expect([pushed('cs-restart-1'), pushed('cs-restart-2')]).toEqual([1, 1])
  })

  it('unconfirmed downlinks (downlink.confirmed false) are acknowledged when a gateway transmitted them', async () => {
    await t.stop()
    const lorawan = config.lorawan!
    t = await startApp(
      { ...config, lorawan: { ...lorawan, downlink: { ...lorawan.downlink, confirmed: false } } },
      dataDir,
    )
    t.app.commands!.submit({ id: 'cs-unconfirmed-1', device: 'lora-soil1', kind: 'valve_close' })
    await waitFor('sent', () => command('cs-unconfirmed-1').state === 'sent')
    const [down] = downlinksFor((d) => d.body.id === queueItemId('cs-unconfirmed-1'))
    expect(down?.body.confirmed).toBe(false)
    await publish(`application/${APP}/device/0101010101010101/event/txack`, {
      deviceInfo: deviceInfo('lora-soil1', '0101010101010101'),
      queueItemId: queueItemId('cs-unconfirmed-1'),
      fCntDown: 9,
      gatewayId: '0016c001f153a14c',
    })
    await waitFor('acknowledged on txack', () => command('cs-unconfirmed-1').state === 'acknowledged')
  })
})
