// LoRaWAN network servers over MQTT (issue 17 scope 5): ChirpStack v4 and The Things Stack v3.
export { LorawanBridge, type LorawanBridgeOptions } from './bridge.ts'
export {
  DOWNLINK_ENCODINGS,
  type DownlinkEncoding,
  type LorawanConfig,
  lorawanSchema,
  SERVER_KINDS,
  type ServerKind,
} from './config.ts'
export { COMMAND_CODES, encodeCommand, SETTING_KEYS } from './downlink.ts'
export { lorawanTables } from './schema.ts'
export { CORRELATION_PREFIX, NETWORK_SERVERS, type NetworkServer, queueItemId } from './servers/index.ts'
