import { type MqttConnection, MqttConsumer } from '../ingest/index.ts'
import { getLogger } from '../log.ts'
import type { Device, Registry } from '../registry/index.ts'
import { parseDeviceTopic, parseStatusMessage, topics } from '../telemetry/index.ts'
import type { CommandLink, CommandService } from './service.ts'

export interface CommandMqttLinkOptions {
  /** The broker and account (`ingest.mqtt`), with this link's own client id: its persistent session. */
  connection: MqttConnection
  registry: Registry
  /** Where statuses and acks go; a function because the service is built with this link in it. */
  commands: () => CommandService | undefined
  /** Only these villages' topics are subscribed (a state worker with an explicit village list). */
  villages?: readonly string[]
  /** Only devices of villages for which this holds (a hash partition); default every village. */
  owns?: (village: string) => boolean
}

/**
 * Commands through a broker this process is a client of (Mosquitto, EMQX, aedes on Redis): the
 * role that sends (`commands.sendFrom`, one per device) publishes on `kampung/<village>/<device>/down`
 * at QoS 1 and takes the devices' retained `…/status` and their `…/ack` on its own persistent QoS 1
 * session, so statuses and acks published while it is down wait in the broker. An ack is recorded
 * (one synchronous SQLite write) before its PUBACK: a crash in between makes the broker deliver it
 * again, and a repeated ack only counts.
 *
 * Online means: the device said so on its status topic (retained `online`, published after it
 * subscribed to its down topic; its will says `offline`). Behind Mosquitto, which writes no
 * statuses, that announcement is the only evidence a device can take a command: the device's
 * subscription is invisible to another client. So an `online` status counts as the embedded
 * broker's "subscribed to down": queued commands go out, and sent unacknowledged ones again.
 */
export class CommandMqttLink implements CommandLink {
  private readonly opts: CommandMqttLinkOptions
  private readonly log = getLogger('commands.mqtt')
  private readonly consumer: MqttConsumer
  /** Logged once per device: a status or ack on a topic that is not the device's own village. */
  private readonly misplaced = new Set<string>()

  constructor(opts: CommandMqttLinkOptions) {
    this.opts = opts
    this.consumer = new MqttConsumer({
      ...opts.connection,
      name: 'commands',
      logName: 'commands.mqtt',
      logFields: { villages: opts.villages ?? (opts.owns ? 'partition' : 'all') },
      topicFilters: this.topicFilters(),
      onMessage: this.onMessage,
    })
  }

  topicFilters(): string[] {
    const villages = this.opts.villages
    if (!villages) return [topics.filter('status'), topics.filter('ack')]
    return villages.flatMap((v) => [topics.filter('status', v), topics.filter('ack', v)])
  }

  async start(): Promise<void> {
    await this.consumer.start()
  }

  async stop(): Promise<void> {
    await this.consumer.stop()
  }

  publishDown(device: Device, payload: string): Promise<void> {
    return this.consumer.publish(topics.down(device.village, device.id), payload)
  }

  /** Resolves once a status is applied or an ack recorded: the consumer sends the PUBACK then. */
  private readonly onMessage = async (topic: string, payload: Buffer): Promise<void> => {
    const t = parseDeviceTopic(topic)
    if (!t || (t.leaf !== 'status' && t.leaf !== 'ack')) return
    if (this.opts.owns && !this.opts.owns(t.village)) return
    const commands = this.opts.commands()
    // Not started (or stopping): no PUBACK, the broker delivers it again on the next session.
    if (!commands) throw new Error('commands are not running')
    const device = this.opts.registry.getDevice(t.device)
    if (!device) return
    if (device.village !== t.village) {
      // The Mosquitto ACL lets a device write `kampung/+/<itself>/…`: only its own village counts.
      if (!this.misplaced.has(device.id)) {
        this.misplaced.add(device.id)
        this.log.warn({ device: device.id, topic }, 'status or ack outside the device village ignored')
      }
      return
    }
    if (t.leaf === 'ack') {
      commands.onAck(device.id, payload)
      return
    }
    const status = parseStatusMessage(topic, payload)
    if (!status) return
    if (status.state === 'online') commands.onDownSubscribed(device.id)
    else commands.onStatus(status)
  }
}
