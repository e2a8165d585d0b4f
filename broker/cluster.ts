import aedesPersistenceRedis from 'aedes-persistence-redis'
import { Redis } from 'ioredis'
import mqemitterRedis from 'mqemitter-redis'

/** Several `kampung broker` instances behind one address, sharing their state through Redis. */
export interface BrokerClusterOptions {
  /** `redis://[:password@]host:port[/db]`; every instance of the cluster names the same one. */
  redisUrl: string
  /**
   * Queued messages a persistent session is sent when it reconnects. aedes-persistence-redis
   * sends only this many (its default is 1 000) and the rest wait for the next reconnect, so an
   * ingest worker back from an outage would stall: the default covers about an hour of a
   * 200-village district (docs/deployment.md).
   */
  maxSessionDelivery: number
}

export const clusterDefaults = { maxSessionDelivery: 100_000 } as const

export interface ClusterBackends {
  /** mqemitter-redis: a publish on one instance reaches subscribers on every instance. */
  mq: unknown
  /** aedes-persistence-redis: subscriptions, retained messages, offline (QoS 1) queues, wills. */
  persistence: unknown
  /** Closes the persistence's Redis connection (aedes closes `mq` itself). */
  close(): Promise<void>
}

/** The Redis pair aedes documents for clusters (aedes docs/Examples.md, "Clusters"). */
export function redisBackends(o: BrokerClusterOptions): ClusterBackends {
  const mq = mqemitterRedis({ connectionString: o.redisUrl })
  const conn = new Redis(o.redisUrl)
  const persistence = aedesPersistenceRedis({ conn, maxSessionDelivery: o.maxSessionDelivery })
  return {
    mq,
    persistence,
    async close() {
      await new Promise<void>((resolve) => persistence.destroy(() => resolve()))
    },
  }
}
