import { Broker } from '../broker/index.ts'
import {
  type AlertEngine,
  alertEngineFromConfig,
  ownership,
  partitionClientId,
  StateFeed,
} from './alerts/index.ts'
import { ApiServer } from './api/index.ts'
import { type CommandLink, CommandMqttLink, CommandService, NodeConfigService } from './commands/index.ts'
import { type Config, resolvePaths } from './config.ts'
import { KampungError } from './errors.ts'
import { privateDir } from './files.ts'
import {
  DeviceQuotas,
  IngestPipeline,
  type MqttConnection,
  MqttConsumer,
  PeerAdoption,
  publishRejection,
  uplinkHandler,
  workerStateTopic,
} from './ingest/index.ts'
import { getLogger } from './log.ts'
import { LorawanBridge } from './lorawan/index.ts'
import { Metrics } from './metrics.ts'
import { createNotify } from './notify/index.ts'
import { InfluxAssessmentSink, Oksigen } from './oksigen/index.ts'
import { Registry } from './registry/index.ts'
import { SCHEMAS } from './schemas.ts'
import type { TelemetryStore } from './store/index.ts'
import { InfluxStore, SpoolingStore, SqliteStore } from './store/index.ts'
import { parseStatusMessage, topics } from './telemetry/index.ts'

export interface Roles {
  broker: boolean
  ingest: boolean
  api: boolean
  /**
   * The state role (`kampung state`): alerts and Oksigen for the villages of `alerts.partition`, fed
   * by its own MQTT subscription instead of the ingest pipeline; stores nothing.
   */
  state?: boolean
}

/**
 * The service, composed from config: registry, store (with spool), ingest, broker, API. The same
 * code runs all-in-one (`kampung up`) or one role per process (`kampung broker`, `kampung ingest`).
 * Start order follows the data path backwards (store before ingest before broker), so nothing is
 * accepted before it can be stored; stop is the reverse and drains.
 */
export class KampungApp {
  readonly config: Config
  readonly roles: Roles
  readonly metrics = new Metrics()
  readonly registry: Registry
  readonly store: TelemetryStore
  readonly pipeline: IngestPipeline
  broker: Broker | undefined
  /** The ingest role's MQTT consumer (`kampung ingest`, ingest.mode mqtt). */
  mqttIngest: MqttConsumer | undefined
  peers: PeerAdoption | undefined
  api: ApiServer | undefined
  oksigen: Oksigen | undefined
  notify: ReturnType<typeof createNotify> | undefined
  alerts: AlertEngine | undefined
  /** The state role (`kampung state`): its message handler, and the MQTT consumer feeding it. */
  stateFeed: StateFeed | undefined
  stateConsumer: MqttConsumer | undefined
  /** Commands to devices (src/commands): sent by the role of commands.sendFrom, or a LoRaWAN network server. */
  commands: CommandService | undefined
  /** The commands' MQTT client link (commands.sendFrom state or ingest). */
  commandLink: CommandMqttLink | undefined
  /** LoRaWAN network servers' MQTT integrations (src/lorawan), when `lorawan.servers` lists any. */
  lorawan: LorawanBridge | undefined
  /** Versioned node configuration, desired against reported (src/commands/config.ts). */
  nodeConfig: NodeConfigService | undefined
  private readonly log = getLogger('app')
  private started: Array<{ stop(): Promise<void> }> = []
  private stopping = false

  constructor(
    config: Config,
    roles: Roles = { broker: config.broker.enabled, ingest: true, api: config.api.enabled },
  ) {
    this.config = config
    this.roles = roles
    const paths = resolvePaths(config)
    this.registry = new Registry({
      path: paths.registry,
      schemas: SCHEMAS,
      deviceAuth: config.deviceLimits.auth,
    })
    this.store =
      config.store.kind === 'influx'
        ? new SpoolingStore({ inner: new InfluxStore(config.store.influx), dir: paths.spoolDir })
        : new SqliteStore({ path: paths.sqlite })
    this.pipeline = new IngestPipeline({
      store: this.store,
      metrics: this.metrics,
      batchMaxReadings: config.ingest.batchMaxReadings,
      batchMaxWaitMs: config.ingest.batchMaxWaitMs,
      maxPendingReadings: config.ingest.maxPendingReadings,
      maxWritesInFlight: config.ingest.maxWritesInFlight,
      quotas: new DeviceQuotas(config.deviceLimits.quota),
      reportRejected: (device, report) => {
        if (this.broker) this.broker.publishError(device, report)
        else if (this.mqttIngest) publishRejection(this.mqttIngest, device, report)
      },
    })
  }

  /** in-process ingest rides on the embedded broker; without it, ingest is an MQTT client. */
  private get ingestMode(): 'in-process' | 'mqtt' {
    return this.roles.broker ? this.config.ingest.mode : 'mqtt'
  }

  async start(): Promise<void> {
    this.stopping = false
    const { config, roles } = this
    if (config.broker.cluster && roles.broker && roles.ingest && this.ingestMode === 'in-process') {
      // In-process ingest consumes uplinks without fanning them out: with several instances each
      // would ingest (and verify trees for) only its own devices, invisible to the others.
      throw new KampungError(
        'config_invalid',
        'broker.cluster: several broker instances need ingest as MQTT clients: run `kampung broker` on each instance and `kampung ingest` workers (ingest.mode: mqtt)',
        { retryable: false },
      )
    }
    if (
      config.commands.sendFrom === 'ingest' &&
      roles.ingest &&
      this.ingestMode === 'mqtt' &&
      config.ingest.mqtt.sharedGroup
    )
      // Every worker of the group would send every command.
      throw new KampungError(
        'config_invalid',
        'commands.sendFrom ingest: one ingest worker sends, but this one is in a shared group (several workers): run `kampung state` workers with commands.sendFrom state instead',
        { retryable: false },
      )
    privateDir(config.dataDir) // 0700: registry, outbox, spool and keys are the service's own
    await this.startPart(this.registry)
    this.metrics.gauge(
      'kampung_health_degraded',
      '1 while GET /health says degraded (store writes failing, spool in use or its disk failing, alert evaluation behind)',
      () => (this.health().status === 'degraded' ? 1 : 0),
    )
    if (roles.ingest || roles.api) {
      await this.startPart(this.store)
      await this.startPart(this.pipeline)
      if (this.store instanceof SpoolingStore) {
        const spool = this.store
        this.metrics.gauge(
          'kampung_spool_readings',
          'Readings waiting in the on-disk spool',
          () => spool.spoolDepth().readings,
        )
      }
    }
    const evaluates = roles.ingest || roles.api || roles.state === true
    if (roles.state && !config.alerts.partition)
      throw new Error('the state role needs alerts.partition (index and count, or villages)')
    // With a partition, only owned villages' trees are this process's to assess.
    const owns = config.alerts.partition ? ownership(config.alerts.partition) : undefined
    if (config.oksigen.enabled && evaluates) {
      const paths = resolvePaths(config)
      // Assessments are copied to InfluxDB (when it is the store) for the Sedekah Oksigen dashboard.
      let sink: InfluxAssessmentSink | undefined
      if (config.store.kind === 'influx') {
        sink = new InfluxAssessmentSink(config.store.influx)
        await this.startPart(sink)
      }
      // The pseudonym key is read at construction: the registry must be open (it is, above).
      this.oksigen = new Oksigen({
        registry: this.registry,
        dir: paths.oksigenDir,
        keyDir: paths.keyDir,
        policies: config.oksigen.policies,
        evaluateEveryMs: config.oksigen.evaluateEveryMs,
        heightStressE: config.oksigen.heightStressE,
        onAssessment: sink ? (record) => sink.add(record) : undefined,
      })
      await this.startPart(this.oksigen)
      const verifier = this.oksigen.verifier
      this.pipeline.onStored((readings) =>
        verifier.onReadings(owns ? readings.filter((r) => owns(r.village)) : readings),
      )
    }
    if (config.alerts.enabled && evaluates) {
      // SMS outbox first: alerts hand it messages from their first evaluation on.
      const notify = createNotify(config.notify, { dataDir: config.dataDir, metrics: this.metrics })
      this.notify = notify
      await this.startPart(notify.outbox)
      this.alerts = alertEngineFromConfig(config, this.registry, notify.outbox, () => this.commands)
      await this.startPart(this.alerts)
      const alerts = this.alerts
      // onStored fires per message; enqueueReadings gathers them into one evaluation per window
      this.pipeline.onStored((readings) => alerts.enqueueReadings(readings))
    }
    if (roles.state) {
      const partition = config.alerts.partition!
      const alerts = this.alerts
      const verifier = this.oksigen?.verifier
      const feed = new StateFeed({
        partition,
        registry: this.registry,
        metrics: this.metrics,
        batchMaxReadings: config.alerts.batchMaxReadings,
        batchMaxWaitMs: config.alerts.batchMaxWaitMs,
        // Synchronous evaluation: the messages are acknowledged once the engine has committed.
        onReadings: (readings) => {
          alerts?.onReadings(readings)
          verifier?.onReadings(readings)
        },
        // The engine decides which devices' statuses feed gateway health (feedsGatewayHealth).
        onStatus: (status) => alerts?.onDeviceStatus(status),
      })
      this.stateFeed = feed
      // Its own non-shared persistent session: every message of the villages it owns.
      this.stateConsumer = new MqttConsumer({
        ...this.mqttConnection(),
        clientId: partitionClientId(partition),
        name: 'state worker',
        logName: 'alerts.feed',
        logFields: { owns: feed.describe() },
        topicFilters: feed.topicFilters(),
        onMessage: feed.onMessage,
      })
      await this.startPart(feed)
      await this.startPart(this.stateConsumer)
      this.log.info(
        { villages: this.stateFeed.ownedVillages() },
        'state worker owns these registered villages',
      )
    }
    if (
      roles.ingest &&
      this.ingestMode === 'mqtt' &&
      config.ingest.mqtt.sharedGroup &&
      (this.alerts || this.oksigen)
    )
      // Each worker of a shared subscription sees only part of a field's or tree's readings.
      this.log.warn(
        { alerts: Boolean(this.alerts), oksigen: Boolean(this.oksigen) },
        'ingest on a shared subscription with alerts or oksigen on: their state needs every reading of a village; run `kampung state` workers (docs/scaling-state.md) and set alerts.enabled and oksigen.enabled false here',
      )
    if (roles.ingest && this.ingestMode === 'mqtt') {
      const m = config.ingest.mqtt
      const group = m.sharedGroup
      const adopt = group !== undefined && m.protocolVersion === 5 && m.adoptPeersAfterS > 0
      const worker = {
        ...this.mqttConnection(),
        name: 'ingest',
        logName: 'ingest.mqtt',
        topicFilters: [topics.filter('up')],
        sharedGroup: group,
        onMessage: uplinkHandler(this.pipeline, this.registry),
      }
      this.mqttIngest = new MqttConsumer({
        ...worker,
        ...(adopt ? { stateTopic: workerStateTopic(group, m.clientId), willDelayS: m.adoptPeersAfterS } : {}),
      })
      await this.startPart(this.mqttIngest)
      if (adopt) {
        this.peers = new PeerAdoption({
          worker: { ...worker, sharedGroup: group },
          adoptAfterS: m.adoptPeersAfterS,
        })
        await this.startPart(this.peers)
      }
    }
    // The LoRaWAN bridge stores uplinks, so it runs where ingest does.
    const lorawan = roles.ingest && config.lorawan.servers.length > 0
    // One role talks to devices about commands (commands.sendFrom); the others only queue them
    // (API, CLI) in the registry file, where the sender's next check finds them. Devices behind a
    // LoRaWAN network server are reached through the bridge of this process.
    const sendFrom = config.commands.sendFrom
    const brokerSends = roles.broker && sendFrom === 'broker'
    const ingestSends = roles.ingest && this.ingestMode === 'mqtt' && sendFrom === 'ingest'
    const stateSends = roles.state === true && sendFrom === 'state'
    if (roles.broker && !brokerSends)
      this.log.warn(
        { sendFrom },
        'commands.sendFrom is not broker: this broker sends no commands; the state or ingest workers on an external broker do',
      )
    if (roles.broker || roles.api || ingestSends || stateSends || lorawan) {
      const partition = stateSends ? config.alerts.partition! : undefined
      this.commandLink = undefined
      if (ingestSends || stateSends)
        this.commandLink = new CommandMqttLink({
          connection: {
            ...this.mqttConnection(),
            // its own persistent session: statuses and acks wait in the broker while it is down
            clientId: `${partition ? partitionClientId(partition) : config.ingest.mqtt.clientId}:commands`,
          },
          registry: this.registry,
          commands: () => this.commands,
          villages: partition?.villages,
          owns: partition && !partition.villages ? ownership(partition) : undefined,
        })
      const mqttLink = this.commandLink
      const deviceLink: CommandLink | undefined = brokerSends
        ? {
            publishDown: (device, payload) =>
              this.broker?.publishDown(device, payload) ?? Promise.reject(new Error('no broker')),
          }
        : mqttLink
      this.commands = new CommandService({
        ...config.commands,
        registry: this.registry,
        link:
          deviceLink || lorawan
            ? {
                publishDown: (device, payload) => {
                  if (this.lorawan?.reaches(device)) return this.lorawan.publishDown(device, payload)
                  return (
                    deviceLink?.publishDown(device, payload) ??
                    Promise.reject(new Error('no link to this device in this process'))
                  )
                },
                // A network server keeps a downlink queued until the device listens: never twice.
                resends: (device) => !this.lorawan?.reaches(device),
              }
            : undefined,
      })
      await this.startPart(this.commands)
      if (mqttLink) await this.startPart(mqttLink)
      this.nodeConfig = new NodeConfigService({
        registry: this.registry,
        commands: this.commands,
        expiryS: config.commands.maxExpiryS,
      })
      await this.startPart(this.nodeConfig)
      const commands = this.commands
      this.metrics.gauge(
        'kampung_commands_open',
        'Commands to devices not yet answered (queued for an offline device, or sent and unacknowledged)',
        () => commands.openCount(),
      )
    }
    if (lorawan) {
      this.lorawan = new LorawanBridge({
        config: config.lorawan,
        registry: this.registry,
        pipeline: this.pipeline,
        metrics: this.metrics,
        commands: this.commands,
      })
      await this.startPart(this.lorawan)
    }
    if (roles.broker) {
      const commands = brokerSends ? this.commands : undefined
      const inProcess = roles.ingest && this.ingestMode === 'in-process'
      this.broker = new Broker({
        host: config.broker.host,
        port: config.broker.port,
        tls: config.broker.tls,
        cluster: config.broker.cluster,
        maxPayloadBytes: config.broker.maxPayloadBytes,
        connectTimeoutMs: config.broker.connectTimeoutMs,
        maxConnections: config.broker.maxConnections,
        listenBacklog: config.broker.listenBacklog,
        maxConnectionsPerAddress: config.broker.maxConnectionsPerAddress,
        unlimitedAddresses: config.broker.unlimitedAddresses,
        maxConnectBytes: config.broker.maxConnectBytes,
        partialPacketTimeoutMs: config.broker.partialPacketTimeoutMs,
        maxConnectionsPerDevice: config.deviceLimits.maxConnectionsPerDevice,
        registry: this.registry,
        onRefused: (cause) => this.metrics.brokerRefusals.inc({ cause }),
        onStatus: (topic, payload) => this.onBrokerStatus(topic, payload),
        onAck: commands ? (device, payload) => commands.onAck(device.id, payload) : undefined,
        onDownSubscribed: commands ? (device) => commands.onDownSubscribed(device.id) : undefined,
        onUplink: inProcess
          ? (device, topic, payload, done) =>
              this.pipeline.handle(device, payload, topic, 'mqtt', Date.now(), (err, outcome) =>
                done(outcome ? undefined : (err ?? new Error('not stored'))),
              )
          : undefined,
      })
      await this.startPart(this.broker)
      const broker = this.broker
      this.metrics.gauge(
        'kampung_broker_open_sockets',
        'MQTT sockets held (CONNECT sent or not), against broker.maxConnections',
        () => broker.stats().openSockets,
      )
      this.metrics.gauge(
        'kampung_broker_online_devices',
        'Devices with a live MQTT connection (retained status online)',
        () => broker.stats().onlineDevices,
      )
    }
    if (roles.api) {
      this.api = new ApiServer({
        host: config.api.host,
        port: config.api.port,
        maxBodyBytes: config.api.maxBodyBytes,
        metricsToken: config.api.metricsToken,
        trustProxy: config.api.trustProxy,
        connections: config.api.connections,
        registry: this.registry,
        pipeline: this.pipeline,
        store: this.store,
        metrics: this.metrics,
        health: () => this.health(),
        oksigen: this.oksigen,
        publicBaseUrl: config.oksigen.publicBaseUrl,
        console: config.console.enabled ? config.console : undefined,
        alerts: this.alerts,
        smsCallbacks: this.notify?.callbacks,
        onlineDevices: this.broker ? () => this.broker?.onlineDeviceIds() ?? [] : undefined,
        commands: this.commands,
        nodeConfig: this.nodeConfig,
      })
      await this.startPart(this.api)
    }
  }

  /** `ingest.mqtt`: the broker connection of both consumer roles (ingest and state). */
  private mqttConnection(): MqttConnection {
    const m = this.config.ingest.mqtt
    return {
      url: m.url,
      username: m.username,
      password: m.password,
      clientId: m.clientId,
      protocolVersion: m.protocolVersion,
      maxInFlightMessages: m.maxInFlightMessages,
      sessionExpiryS: m.sessionExpiryS,
    }
  }

  /**
   * A retained status seen by the embedded broker (its own, a will, or a gateway's report) to the
   * alerts engine, as the state role's feed does: the engine decides which devices' statuses feed
   * gateway health (feedsGatewayHealth), for every role alike.
   */
  private onBrokerStatus(topic: string, payload: Buffer): void {
    // Called from aedes' publish event: it must never throw. While stopping, the broker announces
    // every device offline after the registry and the engine may already be closed.
    if (this.stopping) return
    try {
      const status = parseStatusMessage(topic, payload)
      if (!status) return
      this.alerts?.onDeviceStatus(status)
      // what the broker sees of devices matters to commands only when the broker sends them
      if (this.config.commands.sendFrom === 'broker') this.commands?.onStatus(status)
    } catch (err) {
      this.log.error({ err, topic }, 'device status not applied to alerts')
    }
  }

  private async startPart(part: { start(): Promise<void>; stop(): Promise<void> }): Promise<void> {
    await part.start()
    this.started.push(part)
  }

  health(): Record<string, unknown> {
    const spool = this.store instanceof SpoolingStore ? this.store.spoolDepth() : undefined
    const spoolFaults = this.store instanceof SpoolingStore ? this.store.faults() : undefined
    const storeWrites = this.pipeline.storeWriteFault()
    const alerts = this.alerts?.evaluationBacklog()
    // degraded: store writes fail (e.g. a full disk: messages are refused, not acknowledged);
    // readings wait in the spool because InfluxDB is not taking them; the spool's own disk fails;
    // or stored readings wait for alert evaluation (retried until done).
    const degraded =
      storeWrites !== undefined ||
      (spool !== undefined && spool.readings > 0) ||
      spoolFaults?.peer !== undefined ||
      spoolFaults?.localDisk !== undefined ||
      (alerts !== undefined && alerts.readings > 0)
    return {
      status: degraded ? 'degraded' : 'ok',
      store: this.store.name,
      pendingReadings: this.pipeline.pending,
      ...(storeWrites ? { storeWrites } : {}),
      spool: spool && spoolFaults ? { ...spool, ...spoolFaults } : undefined,
      ...(alerts ? { alertEvaluation: alerts } : {}),
      broker: this.broker ? { port: this.broker.port } : undefined,
    }
  }

  /** Reverse order: stop taking messages first, then drain ingest and the store, then close. */
  async stop(): Promise<void> {
    this.stopping = true
    const parts = this.started.reverse()
    this.started = []
    for (const part of parts) {
      try {
        await part.stop()
      } catch (err) {
        this.log.error({ err }, 'error while stopping')
      }
    }
  }
}
