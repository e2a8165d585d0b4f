import express, { type Request, type Response, type Router } from 'express'
import { isRetryable } from '../errors.ts'
import { type IngestOutcome, type IngestPipeline, reportedErrors } from '../ingest/index.ts'
import type { Device, Registry } from '../registry/index.ts'
import { lorawanDeviceId, PAYLOAD_FORMATS, type PayloadFormat } from '../telemetry/index.ts'
import { authenticate } from './auth.ts'

export interface TelemetryRouteOptions {
  registry: Registry
  pipeline: IngestPipeline
  maxBodyBytes: number
}

/** A structured 4xx/5xx body: what was wrong and where. */
interface ErrorBody {
  error: string
  message: string
  accepted?: number
  rejected?: Array<{ path: string; reason: string; message: string }>
}

function fail(res: Response, status: number, body: ErrorBody): void {
  res.status(status).json(body)
}

/** ChirpStack and The Things Stack name the end device inside the payload (src/telemetry/lorawan.ts). */
function deviceNamedInPayload(format: PayloadFormat, body: Buffer): string | undefined {
  if (format !== 'chirpstack' && format !== 'tts') return undefined
  try {
    return lorawanDeviceId(format, JSON.parse(body.toString('utf8')))
  } catch {
    return undefined
  }
}

/** Formats of devices reached through a LoRaWAN network server (its integration posts for them). */
const NETWORK_SERVER_FORMATS: ReadonlySet<PayloadFormat> = new Set(['chirpstack', 'tts'])

/**
 * Who may post readings for whom: a device for itself, a gateway for its village's devices, and a
 * `service` account (a network server's integration) only for devices registered as reached through
 * a network server (format chirpstack or tts). A service credential never speaks for a node that
 * reports by itself: readings are evidence (a tree's growth releases a certificate).
 */
function mayPostFor(caller: Device, target: Device): boolean {
  if (caller.id === target.id) return true
  if (caller.kind === 'service') return NETWORK_SERVER_FORMATS.has(target.format)
  return caller.kind === 'gateway' && caller.village === target.village
}

/**
 * POST /api/v1/telemetry: for gateways and integrations that cannot speak MQTT. Same decoders as
 * MQTT. 200 only once every reading is durable; 422 lists each rejected part (the good ones are
 * stored); 503 when the store cannot take them now (retry later; nothing was acknowledged).
 *
 *   ?device=<id>   the device the payload is from (default: the caller, or the device named in a
 *                  ChirpStack/TTS uplink)
 *   ?format=<f>    json | senml | lpp | chirpstack | tts (default: the device's registered format)
 *   ?event=<e>     ChirpStack's event type; only `up` carries readings, others are acknowledged
 *
 * The caller is authenticated before a byte of the body is read: an unauthenticated request is
 * answered 401 and its connection closed. A 422 lists at most 50 rejected parts and a summary line
 * (as the MQTT errors topic does). A ChirpStack uplink with neither codec output (`object`) nor frame
 * payload is refused (422 `empty_uplink`), not acknowledged with nothing stored.
 */
export function telemetryRouter(opts: TelemetryRouteOptions): Router {
  const router = express.Router()
  const body = express.raw({ type: () => true, limit: opts.maxBodyBytes })

  router.post('/api/v1/telemetry', async (req: Request, res: Response) => {
    // Before the body: a stranger's is never read (auth.ts hangs up on a refusal).
    const caller = await authenticate(
      opts.registry,
      req,
      res,
      'send the gateway id and secret as HTTP Basic credentials',
    )
    if (!caller) return
    // Only now the body (errors such as too_large go to server.ts's error handler).
    await new Promise<void>((resolve, reject) =>
      body(req, res, (err?: unknown) => (err ? reject(err) : resolve())),
    )

    const formatParam = typeof req.query.format === 'string' ? req.query.format : undefined
    if (formatParam && !(PAYLOAD_FORMATS as readonly string[]).includes(formatParam)) {
      return fail(res, 400, {
        error: 'unknown_format',
        message: `format "${formatParam}" is not one of ${PAYLOAD_FORMATS.join(', ')}`,
      })
    }
    const event = typeof req.query.event === 'string' ? req.query.event : 'up'
    if (event !== 'up') return res.status(200).json({ accepted: 0, rejected: [], ignored: `event ${event}` })

    const payload: Buffer = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0)
    const deviceParam = typeof req.query.device === 'string' ? req.query.device : undefined
    const targetId =
      deviceParam ??
      deviceNamedInPayload((formatParam as PayloadFormat) ?? caller.format, payload) ??
      caller.id
    const target = targetId === caller.id ? caller : opts.registry.getDevice(targetId)
    if (!target)
      return fail(res, 404, { error: 'unknown_device', message: `no registered device "${targetId}"` })
    if (!mayPostFor(caller, target)) {
      return fail(res, 403, {
        error: 'forbidden',
        message:
          caller.kind === 'service'
            ? `service account "${caller.id}" may post readings only for devices registered as reached through a LoRaWAN network server (format chirpstack or tts); "${target.id}" is ${target.format}`
            : `"${caller.id}" may not post readings for "${target.id}" (village ${target.village})`,
      })
    }
    const device = formatParam ? { ...target, format: formatParam as PayloadFormat } : target
    // ChirpStack names the event in the URL: an `up` with nothing to read is a broken codec or
    // integration, not a status event. (TTS posts join accepts and others to the same webhook.)
    const uplink = device.format === 'chirpstack' && event === 'up'
    try {
      // The 200 goes out once the readings are durable: the pipeline's callback as a promise.
      const outcome = await new Promise<IngestOutcome>((resolve, reject) =>
        opts.pipeline.handle(device, payload, req.path, 'http', Date.now(), (err, outcome) =>
          outcome ? resolve(outcome) : reject(err),
        ),
      )
      if (outcome.retryAfterMs !== undefined) {
        res.set('Retry-After', String(Math.ceil(outcome.retryAfterMs / 1000)))
        const [refusal] = outcome.rejected
        return fail(res, 429, {
          error: refusal!.reason,
          message: refusal!.message,
          accepted: 0,
          rejected: outcome.rejected,
        })
      }
      if (uplink && outcome.accepted === 0 && outcome.rejected.length === 0) {
        return fail(res, 422, {
          error: 'empty_uplink',
          message:
            'a ChirpStack uplink (event=up) carries `object` or `data`; this one has neither (another event type? post it with ?event=<type>)',
          accepted: 0,
          rejected: [],
        })
      }
      if (outcome.rejected.length === 0)
        return res.status(200).json({ accepted: outcome.accepted, rejected: [] })
      return fail(res, 422, {
        error: outcome.accepted > 0 ? 'partially_rejected' : 'rejected',
        message: `${outcome.accepted} readings stored, ${outcome.rejected.length} parts rejected`,
        accepted: outcome.accepted,
        rejected: reportedErrors(outcome.rejected),
      })
    } catch (err) {
      if (isRetryable(err)) {
        res.set('Retry-After', '5')
        return fail(res, 503, {
          error: 'store_unavailable',
          message: 'readings could not be stored now; retry',
        })
      }
      return fail(res, 500, { error: 'internal', message: (err as Error).message })
    }
  })
  return router
}
