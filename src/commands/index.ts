// Commands to devices (issue 17): the service, its tables and the wire format the firmware shares.
export {
  CONFIG_SYNC_STATES,
  type ConfigSyncState,
  type ConfigVersion,
  type DesiredConfig,
  type NodeConfigOptions,
  NodeConfigService,
  type NodeConfigView,
  type ReportedConfig,
} from './config.ts'
export { CommandMqttLink, type CommandMqttLinkOptions } from './mqtt-link.ts'
export { commandsTables, deviceConfigTables } from './schema.ts'
export {
  type Command,
  type CommandLink,
  type CommandOptions,
  CommandService,
  defaultCommandOptions,
  type NewCommand,
} from './service.ts'
export {
  type AppliedConfig,
  COMMAND_KINDS,
  COMMAND_PARAMS,
  COMMAND_STATES,
  type CommandAck,
  type CommandKind,
  type CommandMessage,
  type CommandParams,
  type CommandState,
  DEFAULT_IRRIGATE_S,
  NODE_SETTING_NAMES,
  NODE_SETTINGS,
  type NodeSettingName,
  type NodeSettings,
  nodeSettingsSchema,
  parseAck,
  parseCommandMessage,
} from './wire.ts'
