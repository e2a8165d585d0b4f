export {
  canSubscribe,
  classifyPublish,
  clientIdBelongsTo,
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
export { FrameGuard } from './frame-guard.ts'
