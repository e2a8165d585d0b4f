export {
  CLIENT_ID_SEPARATOR,
  type ClientIdVerdict,
  canSubscribe,
  classifyPublish,
  clientIdVerdict,
  type RefusalCause,
  willAllowed,
} from './acl.ts'
export {
  Broker,
  type BrokerOptions,
  type BrokerStats,
  type BrokerTlsOptions,
  defaultOptions,
  type OnUplink,
} from './broker.ts'
export {
  FrameGuard,
  type FrameLimits,
  guardSocket,
  PacketTooLargeError,
  PartialPacketTimeoutError,
} from './frame-guard.ts'
