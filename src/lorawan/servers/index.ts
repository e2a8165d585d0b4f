import type { ServerKind } from '../config.ts'
import { chirpstack } from './chirpstack.ts'
import { tts } from './tts.ts'
import type { NetworkServer } from './types.ts'

/** Every network server the bridge speaks to, by config `kind` (tests/lorawan/servers.test.ts checks the list). */
export const NETWORK_SERVERS: Readonly<Record<ServerKind, NetworkServer>> = { chirpstack, tts }

export { queueItemId } from './chirpstack.ts'
export { CORRELATION_PREFIX, type DownlinkFrame, type Interpretation, type NetworkServer } from './types.ts'
