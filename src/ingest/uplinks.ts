import type { Device, Registry } from '../registry/index.ts'
import { parseDeviceTopic, topics } from '../telemetry/index.ts'
import type { MessageHandler, MqttConsumer } from './mqtt-consumer.ts'
import type { IngestPipeline, RejectionReport } from './pipeline.ts'

/**
 * The ingest role's message handler for MqttConsumer: an uplink of a registered device
 * (`kampung/<its village>/<its id>/up`) goes through the pipeline and is done once durable.
 * Anything else is counted as `unknown_device` (malformed input is data) and acknowledged.
 */
export function uplinkHandler(pipeline: IngestPipeline, registry: Registry): MessageHandler {
  return async (topic, payload) => {
    const t = parseDeviceTopic(topic)
    const device = t?.leaf === 'up' ? registry.getDevice(t.device) : undefined
    if (!device || device.village !== t!.village) {
      pipeline.account(
        undefined,
        [],
        [{ path: topic, reason: 'unknown_device', message: `no registered device for topic ${topic}` }],
        topic,
        'mqtt',
        Date.now(),
      )
      return
    }
    // The one promise at this edge: the consumer holds the PUBACK until it settles.
    await new Promise<void>((resolve, reject) =>
      pipeline.handle(device, payload, topic, 'mqtt', Date.now(), (err, outcome) =>
        outcome ? resolve() : reject(err ?? new Error('not stored')),
      ),
    )
  }
}

/** A rejection report to the device's errors topic (a service principal has none to read). */
export function publishRejection(consumer: MqttConsumer, device: Device, report: RejectionReport): void {
  if (device.kind === 'service') return
  // Best effort: the report is advice to the device; its readings' fate is already decided.
  consumer.publish(topics.errors(device.village, device.id), JSON.stringify(report)).catch(() => {})
}
