/**
 * One payload of each format through `decode`: `npx tsx src/telemetry/example.ts`.
 * The output is pasted in README.md.
 */

import type { PayloadFormat } from './formats.ts'
import { type DecodeContext, decode } from './index.ts'

const ctx: DecodeContext = {
  village: 'sumberagung',
  device: 'soil-7',
  receivedAtMs: Date.parse('2024-05-01T10:00:00Z'),
  channels: { '1': { quantity: 'soil_moisture', sensor: 'soil1' } },
}

const examples: [PayloadFormat, string][] = [
  ['json', '{"ts": 1714557000000, "values": {"moisture": 31.5, "soil1/temp": 27.3, "leaf": 2}}'],
  [
    'senml',
    '[{"bn": "urn:dev:ow:10e2073a01080063:soil1/", "bt": -60, "n": "soil_moisture", "u": "/", "v": 0.315},' +
      ' {"n": "soil_temperature", "u": "K", "v": 300.45}, {"n": "pressure", "u": "Pa", "t": 60, "v": 100860}]',
  ],
  ['lpp', '01020C4E0267011104689A'],
  [
    'chirpstack',
    '{"time": "2024-05-01T09:59:58Z", "fPort": 1, "data": "AQIMTgJnAREEaJo=", "rxInfo": [{"rssi": -112}, {"rssi": -97}]}',
  ],
  [
    'tts',
    '{"received_at": "2024-05-01T09:59:59.5Z", "uplink_message": {"f_port": 2,' +
      ' "decoded_payload": {"vwc": 31.5, "vbat": 3.61}, "rx_metadata": [{"rssi": -101, "channel_rssi": -100}]}}',
  ],
]

for (const [format, payload] of examples) {
  const { readings, errors } = decode(format, payload, ctx)
  console.log(format)
  for (const r of readings) {
    console.log(`  ${new Date(r.timeMs).toISOString()} ${r.sensor} ${r.quantity} ${r.value}`)
  }
  for (const e of errors) console.log(`  ! ${e.path} ${e.reason}: ${e.message}`)
}
