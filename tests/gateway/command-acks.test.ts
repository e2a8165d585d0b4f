import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { Gateway, type GatewayOptions } from '../../gateway/index.ts'
import { startApp, type TestApp, waitFor } from '../harness/app.ts'
import { freePort } from '../harness/ports.ts'

const V = 'kemiren'
const FAST = {
  reconnectBackoff: { initialMs: 100, maxMs: 400 },
  refusedBackoff: { initialMs: 200, maxMs: 1_000 },
  connectTimeoutMs: 2_000,
}

/**
 * A node's answer to a command gets the store-and-forward of readings: given while the gateway's
 * uplink is down, it is kept in the gateway's queue file, survives a restart of the gateway, and
 * reaches the service when the link is back, without the service sending the command again.
 */
describe('gateway: command answers through the durable queue', () => {
  const appDir = mkdtempSync(path.join(os.tmpdir(), 'kampung-gw-acks-app-'))
  const gwDir = mkdtempSync(path.join(os.tmpdir(), 'kampung-gw-acks-'))
  let t: TestApp | undefined
  const gateways: Gateway[] = []

  afterAll(async () => {
    for (const g of gateways) await g.stop({ drainTimeoutMs: 0 })
    await t?.stop()
    rmSync(appDir, { recursive: true, force: true })
    rmSync(gwDir, { recursive: true, force: true })
  })

  it('link down, node answers, gateway restarted, link up: acknowledged from the queue', async () => {
    const mqttPort = await freePort()
    // No periodic resend within the test: only a subscription (the embedded broker's evidence
    // that the node listens) makes the service publish a sent command again.
    const config = { broker: { port: mqttPort }, commands: { resendAfterS: 3_600, checkEveryMs: 200 } }
    t = await startApp(config, appDir)
    const gwSecret = await t.addDevice({ id: 'gw-1', village: V, kind: 'gateway' })
    const nodeSecret = await t.addDevice({ id: 'node-1', village: V })
    const options = (onCommand: GatewayOptions['onCommand']): GatewayOptions => ({
      gateway: { id: 'gw-1', village: V, secret: gwSecret },
      url: `mqtt://127.0.0.1:${mqttPort}`,
      nodes: { 'node-1': { village: V, secret: nodeSecret } },
      dataDir: gwDir,
      ...FAST,
      onCommand,
    })
    const commandState = () => t!.app.commands!.get('g-1')

    // The node takes the command and is slow to answer (a valve turning).
    const firstRun: string[] = []
    let answer: (ack: object) => void = () => {}
    const gw1 = new Gateway(
      options((_device, payload) => {
        firstRun.push(JSON.parse(payload.toString()).id)
        return new Promise<object>((resolve) => {
          answer = resolve
        })
      }),
    )
    gateways.push(gw1)
    await gw1.start()
    t.app.commands!.submit({ id: 'g-1', device: 'node-1', kind: 'valve_close' })
    await waitFor('the node has the command', () => firstRun.length === 1)
    await waitFor('g-1 sent', () => commandState()?.state === 'sent')

    // The service (and its broker) goes away; the node answers meanwhile.
    await t.stop()
    t = undefined
    await waitFor('node link down', () => gw1.health().nodes['node-1']?.state !== 'connected')
    answer({ id: 'g-1', ok: true })
    await waitFor('the answer is queued', () => gw1.health().queuedAcks === 1)

    // The gateway restarts with the answer on disk; its node now answers nothing (a node that
    // lost power and its memory): an acknowledgement can only come from the queue.
    await gw1.stop({ drainTimeoutMs: 0 })
    gateways.splice(0)
    const secondRun: string[] = []
    const gw2 = new Gateway(
      options((_device, payload) => {
        secondRun.push(JSON.parse(payload.toString()).id)
        return undefined
      }),
    )
    gateways.push(gw2)
    await gw2.start()
    expect(gw2.health().queuedAcks).toBe(1)

    t = await startApp(config, appDir)
    await waitFor('g-1 acknowledged', () => commandState()?.state === 'acknowledged')
    expect(commandState()).toMatchObject({ state: 'acknowledged', acks: 1 })
    await waitFor('the answer left the queue', () => gw2.health().queuedAcks === 0)
    expect(firstRun).toEqual(['g-1'])
    // Whatever the service resent on the node's subscription was never answered by the node.
    expect(secondRun.every((id) => id === 'g-1')).toBe(true)
    expect(commandState()?.acks).toBe(1)
  })
})
