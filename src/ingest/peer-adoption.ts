import mqtt, { type MqttClient } from 'mqtt'
import { getLogger, type Logger } from '../log.ts'
import { MqttConsumer, type MqttConsumerOptions } from './mqtt-consumer.ts'

/** Where the workers of a shared group keep their liveness (retained, MQTT 5). */
export function workerStateTopic(group: string, clientId: string): string {
  return `kampung-ingest/${group}/${clientId}/state`
}

export interface PeerAdoptionOptions {
  /** The worker's own MqttConsumer options (url, credentials, group, client id, handler…). */
  worker: MqttConsumerOptions & { sharedGroup: string }
  /** A peer silent this long (its will's delay) has its session adopted. */
  adoptAfterS: number
}

/**
 * Makes a dead worker's share move to the others on a broker that, like Mosquitto 2.0, keeps
 * routing a shared subscription's messages to a member's session while it is disconnected
 * (tests/scale/shared-ingest.test.ts).
 *
 * Each worker's connection carries a retained will `offline` on its state topic with an MQTT 5
 * Will Delay Interval, so the broker publishes it only when nobody has held that client id for
 * `adoptAfterS` (a quick restart never triggers it). A survivor that sees `offline` connects
 * with the dead worker's client id: the broker resumes that session, resends the messages it had
 * in flight and delivers what was queued and what keeps coming, and our held PUBACKs make each
 * durable before the broker forgets it. When the owner comes back it takes its session over (the
 * broker closes the adopter's connection) and the adopter lets go without reconnecting; two
 * survivors adopting at once settle the same way. An adopted connection carries the same will,
 * so if its adopter dies too, another survivor adopts.
 */
export class PeerAdoption {
  private readonly opts: PeerAdoptionOptions
  private readonly log: Logger
  private watcher: MqttClient | undefined
  private readonly adopted = new Map<string, MqttConsumer>()
  private stopping = false

  constructor(opts: PeerAdoptionOptions) {
    this.opts = opts
    this.log = getLogger('ingest.peers')
  }

  async start(): Promise<void> {
    const w = this.opts.worker
    // Its own clean connection: state messages never mix with the uplinks of a session.
    this.watcher = await mqtt.connectAsync(w.url, {
      clientId: `${w.clientId}-peers`,
      username: w.username,
      password: w.password,
      protocolVersion: 5,
      clean: true,
      reconnectPeriod: 1000,
    })
    this.watcher.on('message', (topic, payload) => this.onState(topic, payload))
    await this.watcher.subscribeAsync(workerStateTopic(w.sharedGroup, '+'), { qos: 1 })
  }

  /** Peer client ids whose sessions this worker holds now. */
  get adoptedPeers(): string[] {
    return [...this.adopted.keys()]
  }

  private onState(topic: string, payload: Buffer): void {
    const peer = topic.split('/')[2]
    if (!peer || peer === this.opts.worker.clientId || this.stopping) return
    let state: unknown
    try {
      state = (JSON.parse(payload.toString()) as { state?: unknown }).state
    } catch {
      return // not ours to judge; a peer's state is only ever written by workers and their wills
    }
    if (state === 'offline' && !this.adopted.has(peer)) void this.adopt(peer)
  }

  private async adopt(peer: string): Promise<void> {
    const w = this.opts.worker
    const ingest = new MqttConsumer({
      ...w,
      clientId: peer,
      adopted: true,
      stateTopic: workerStateTopic(w.sharedGroup, peer),
      willDelayS: this.opts.adoptAfterS,
      onClosed: (reasonCode) => {
        if (this.adopted.get(peer) !== ingest) return
        this.adopted.delete(peer)
        this.log.info({ peer, reasonCode }, 'adopted peer session released')
      },
    })
    this.adopted.set(peer, ingest)
    try {
      await ingest.start()
    } catch (err) {
      this.adopted.delete(peer)
      this.log.warn({ peer, err: (err as Error).message }, 'could not adopt peer session')
      return
    }
    if (!ingest.sessionPresent) {
      // Its session had expired: nothing queued, nothing routed to it. End the empty session we
      // just made and clear its state, so nobody adopts it again.
      this.adopted.delete(peer)
      await ingest.endSession()
      await this.watcher?.publishAsync(workerStateTopic(w.sharedGroup, peer), '', { qos: 1, retain: true })
      this.log.info({ peer }, 'peer session had expired; state cleared')
    }
  }

  async stop(): Promise<void> {
    this.stopping = true
    // Each adopted session is let go with its will, so another survivor can adopt it in turn.
    await Promise.allSettled([...this.adopted.values()].map((i) => i.stop()))
    this.adopted.clear()
    await this.watcher?.endAsync()
    this.watcher = undefined
  }
}
