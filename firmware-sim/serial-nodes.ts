import type { Gateway } from '../gateway/index.ts'
import { getLogger } from '../src/log.ts'
import type { SimNodeSpec } from './district.ts'
import { createFirmware, type NodeFirmware, type NodeReport } from './node/firmware.ts'
import { openSerialBoard } from './node/mock-board.ts'

/**
 * Real nodes: an Arduino running StandardFirmata on a serial port, driven by the same firmware
 * classes as the simulated boards (johnny-five over firmata.js). Each report goes to the village
 * gateway with the gateway's clock. Needs the `serialport` native binding (not built on the
 * development machines, which have no serial ports: approve and build it where boards are
 * attached — see firmware-sim/node/README.md). Untested here.
 */
export async function startSerialNodes(o: {
  nodes: Array<{ spec: SimNodeSpec; port: string }>
  gateway: Gateway
  reportIntervalMs: number
  /** A dendrometer's stem diameter at mounting, µm (measured by hand when the sensor is fitted). */
  stemBaseUm?: number
}): Promise<{ stop(): void }> {
  const log = getLogger('sim.serial')
  const running: NodeFirmware[] = []
  for (const { spec, port } of o.nodes) {
    const board = await openSerialBoard({ port, id: spec.id })
    const common = { deviceId: spec.id, sensor: 'main', intervalMs: o.reportIntervalMs }
    const firmware = createFirmware(
      board,
      spec.kind === 'dendrometer'
        ? { kind: 'dendrometer', ...common, dendrometer: { baseDiameterUm: o.stemBaseUm ?? 20_000 } }
        : { kind: spec.kind, ...common },
    )
    firmware.on('report', (report: NodeReport) => {
      const result = o.gateway.submit(spec.id, { values: report.values })
      if (!result.ok) log.warn({ node: spec.id, reason: result.reason }, result.message)
    })
    firmware.start({ timer: true })
    running.push(firmware)
    log.info({ node: spec.id, port }, 'real board reporting')
  }
  return {
    stop() {
      for (const f of running) f.stop()
    },
  }
}
