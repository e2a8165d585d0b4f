// aedes-persistence-redis ships no typings: the part of it this project uses.
declare module 'aedes-persistence-redis' {
  import type { Redis, RedisOptions } from 'ioredis'

  interface AedesPersistenceRedisOptions extends RedisOptions {
    /** Offline messages delivered on CONNECT at most (library default 1 000). */
    maxSessionDelivery?: number
    /** An existing connection instead of one made from the options. */
    conn?: Redis
  }
  interface AedesPersistenceRedis {
    destroy(cb?: () => void): Promise<void> | undefined
  }
  function aedesPersistenceRedis(opts?: AedesPersistenceRedisOptions): AedesPersistenceRedis
  export default aedesPersistenceRedis
}
