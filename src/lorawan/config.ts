import { z } from 'zod'

/** The network servers the bridge speaks to, one plug-in each (servers/index.ts). */
export const SERVER_KINDS = ['chirpstack', 'tts'] as const
export type ServerKind = (typeof SERVER_KINDS)[number]

/** How a command's downlink payload is written (downlink.ts has the byte layout). */
export const DOWNLINK_ENCODINGS = ['binary', 'json'] as const
export type DownlinkEncoding = (typeof DOWNLINK_ENCODINGS)[number]

/** LoRaWAN application ports 1…223 (224 is the MAC test port, above it reserved). */
const fPort = z.number().int().min(1).max(223)

const serverSchema = z
  .object({
    /** Names the server in logs, metrics and the learned device addresses. */
    name: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'lower-case letters, digits, - and _'),
    kind: z.enum(SERVER_KINDS),
    /** The network server's MQTT broker (ChirpStack's Mosquitto, TTS's MQTT server). */
    url: z
      .string()
      .regex(/^mqtts?:\/\//, 'must be an mqtt:// or mqtts:// URL')
      .refine((u) => !/^[a-z]+:\/\/[^/]*@/i.test(u), 'no credentials in the URL: use username and password'),
    /** TTS: `<application id>@<tenant id>` (`app1@ttn`), or the application id on TTS Open Source. */
    username: z.string().optional(),
    /** TTS: an application API key. */
    password: z.string().optional(),
    clientId: z.string().min(1).max(64).default('kampung-lorawan'),
    /** The Things Stack's MQTT server speaks 3.1.1 only. */
    protocolVersion: z.union([z.literal(4), z.literal(5)]).default(4),
    /** Messages taken and not yet stored; beyond this the socket is not read (backpressure). */
    maxInFlightMessages: z.number().int().min(1).max(65_535).default(1000),
    /** MQTT 5 session expiry, s: how long the broker queues for us while we are away. */
    sessionExpiryS: z
      .number()
      .int()
      .min(0)
      .default(7 * 24 * 3600),
  })
  .strict()

export const lorawanSchema = z
  .object({
    /** Empty (the default): no bridge. */
    servers: z.array(serverSchema).default([]),
    downlink: z
      .object({
        /** The application port commands go out on. */
        fPort: fPort.default(10),
        /** Confirmed downlinks: the device's LoRaWAN acknowledgement decides acknowledged or failed. */
        confirmed: z.boolean().default(true),
        /** binary: our byte layout (downlink.ts); json: the network server's codec encodes it. */
        encoding: z.enum(DOWNLINK_ENCODINGS).default('binary'),
        /** Per-device exceptions to `encoding`, by registered device id. */
        devices: z.record(z.string(), z.enum(DOWNLINK_ENCODINGS)).default({}),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .superRefine((c, ctx) => {
    const seen = new Set<string>()
    c.servers.forEach((s, i) => {
      if (seen.has(s.name))
        ctx.addIssue({
          code: 'custom',
          path: ['servers', i, 'name'],
          message: `server name ${s.name} used twice`,
        })
      seen.add(s.name)
    })
  })

export type LorawanConfig = z.infer<typeof lorawanSchema>
export type ServerConfig = LorawanConfig['servers'][number]
