// Commands to devices (issue 17): the service, its tables and the wire format the firmware shares.
export { CommandMqttLink, type CommandMqttLinkOptions } from './mqtt-link.ts'
export { commandsTables } from './schema.ts'
export {
  type Command,
  type CommandLink,
  type CommandOptions,
  CommandService,
  defaultCommandOptions,
  type NewCommand,
} from './service.ts'
export {
  COMMAND_KINDS,
  COMMAND_PARAMS,
  COMMAND_STATES,
  type CommandAck,
  type CommandKind,
  type CommandMessage,
  type CommandParams,
  type CommandState,
  parseAck,
  parseCommandMessage,
} from './wire.ts'
