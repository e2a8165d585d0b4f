import type { CommandMessage } from '../commands/index.ts'
import { KampungError } from '../errors.ts'
import type { DownlinkEncoding } from './config.ts'

/**
 * A command as a LoRaWAN downlink payload, in the encoding the device expects.
 *
 * `binary` (frm_payload / data, on `lorawan.downlink.fPort`, default 10): one byte naming the
 * command, then its parameters, big-endian. Cayenne LPP defines no downlink for these (its actuator
 * downlink is a channel and a 2-byte value ×100, too small for a report interval of 600 s), so the
 * layout is ours:
 *
 * | command       | bytes                                                | example (hex)  |
 * |---------------|------------------------------------------------------|----------------|
 * | `set_config`  | `01`, then per setting: key (1 byte), value (uint32) | `01 01 00000258` (reportIntervalS 600) |
 * | `reboot`      | `02`                                                 | `02`           |
 * | `valve_open`  | `03`, maxDurationS (uint16, ≤ 43 200)                | `03 0708` (1 800 s) |
 * | `valve_close` | `04`                                                 | `04`           |
 *
 * set_config keys: `01` reportIntervalS, `02` version (the versioned configuration's, src/commands/
 * config.ts), `03` dryThresholdPct in tenths of a percent (21.5 → 215), `04` irrigateS. A LoRaWAN frame carries no command id: the network
 * server's acknowledgement (ChirpStack queue item, TTS correlation id) ties the answer to it.
 *
 * `json`: the command message of the `down` topic (`{"id","kind","params","expiresAtMs"}`) as the
 * downlink's `object` (ChirpStack) or `decoded_payload` (TTS), for the device profile's codec or
 * payload formatter to encode.
 */
export const COMMAND_CODES = { set_config: 0x01, reboot: 0x02, valve_open: 0x03, valve_close: 0x04 } as const

/** set_config settings in the binary layout: key byte per parameter. */
export const SETTING_KEYS: Readonly<Record<string, number>> = {
  reportIntervalS: 0x01,
  version: 0x02,
  dryThresholdPct: 0x03,
  irrigateS: 0x04,
}

/** Settings sent scaled to an integer (the device divides): dryThresholdPct in tenths of a percent. */
const SETTING_SCALE: Readonly<Record<string, number>> = { dryThresholdPct: 10 }

const UINT32_MAX = 0xffff_ffff
const UINT16_MAX = 0xffff

export type EncodedDownlink = { bytes: Buffer } | { object: Record<string, unknown> }

/** The downlink payload of `command`; a KampungError (not retryable) when it has no binary form. */
export function encodeCommand(command: CommandMessage, encoding: DownlinkEncoding): EncodedDownlink {
  if (encoding === 'json') return { object: { ...command } }
  const code = COMMAND_CODES[command.kind]
  switch (command.kind) {
    case 'set_config': {
      const parts = [Buffer.from([code])]
      for (const [name, value] of Object.entries(command.params)) {
        const key = SETTING_KEYS[name]
        if (key === undefined) throw unencodable(`setting ${name} has no binary key`)
        const scale = SETTING_SCALE[name] ?? 1
        const scaled = typeof value === 'number' ? Math.round(value * scale) : Number.NaN
        if (
          typeof value !== 'number' ||
          Math.abs(scaled - value * scale) > 1e-6 ||
          scaled < 0 ||
          scaled > UINT32_MAX
        )
          throw unencodable(
            `setting ${name} is not ${scale === 1 ? 'an integer' : `a multiple of ${1 / scale}`} of 0…${UINT32_MAX / scale}`,
          )
        const record = Buffer.alloc(5)
        record[0] = key
        record.writeUInt32BE(scaled, 1)
        parts.push(record)
      }
      return { bytes: Buffer.concat(parts) }
    }
    case 'valve_open': {
      const seconds = command.params.maxDurationS
      if (!Number.isInteger(seconds) || (seconds as number) < 1 || (seconds as number) > UINT16_MAX)
        throw unencodable(`maxDurationS is not an integer of 1…${UINT16_MAX}`)
      const bytes = Buffer.alloc(3)
      bytes[0] = code
      bytes.writeUInt16BE(seconds as number, 1)
      return { bytes }
    }
    case 'reboot':
    case 'valve_close':
      return { bytes: Buffer.from([code]) }
  }
}

function unencodable(message: string): KampungError {
  return new KampungError('unencodable_command', `binary downlink: ${message}`, { retryable: false })
}
