import { isIP } from 'node:net'
import { z } from 'zod'

/** Outbox tunables (see OutboxOptions in outbox.ts for what each means). */
export const defaultOutboxOptions = {
  retryBaseMs: 5_000,
  retryMaxMs: 10 * 60_000,
  maxAttempts: 12,
  maxAgeMs: 24 * 3600_000,
  dailySegmentBudget: 20,
  inDoubtHoldMs: 15 * 60_000,
  pollIntervalMs: 1_000,
  maxInFlight: 8,
  unregisteredReplies: false,
  unregisteredRepliesPerHour: 10,
}

/** Kannel's callback token travels as URL userinfo, which Kannel sends as written: no escapes. */
const TOKEN_CHARS = /^[A-Za-z0-9_-]+$/
const MIN_TOKEN_LENGTH = 16

/** An IPv4/IPv6 address or CIDR (`10.0.0.0/8`, `fd00::/8`). */
function isAddressOrCidr(s: string): boolean {
  const [addr, bits, extra] = s.split('/')
  const family = isIP(addr ?? '')
  if (!family || extra !== undefined) return false
  if (bits === undefined) return true
  const n = Number(bits)
  return /^\d+$/.test(bits) && n <= (family === 4 ? 32 : 128)
}

/** The `notify` config section (SMS). Defaults: the console sender, so `npm start` needs no gateway. */
export const notifySchema = z
  .object({
    /** console: log each SMS; kannel: HTTP sendsms to a Kannel smsbox; smpp: direct SMPP 3.4 bind. */
    sender: z.enum(['console', 'kannel', 'smpp']).default('console'),
    /** Default <dataDir>/notify/outbox.sqlite */
    outboxPath: z.string().optional(),
    kannel: z
      .object({
        sendsmsUrl: z.string().url().default('http://127.0.0.1:13013/cgi-bin/sendsms'),
        username: z.string().min(1).default('kampung'),
        password: z.string().optional(),
        from: z.string().optional(),
        /** Our API as Kannel reaches it; DLRs come to <callbackBaseUrl>/sms/kannel/dlr. */
        callbackBaseUrl: z.string().url().default('http://127.0.0.1:8080/api/v1'),
        /**
         * Shared secret of the DLR and MO callbacks, sent by Kannel as HTTP Basic (`kannel:<token>@`
         * in its URLs; `kampung kannel-config` prints the smsbox group). This and/or
         * callbackAllowFrom is required with sender kannel.
         */
        callbackToken: z
          .string()
          .min(MIN_TOKEN_LENGTH, `at least ${MIN_TOKEN_LENGTH} characters (e.g. openssl rand -hex 16)`)
          .regex(TOKEN_CHARS, 'letters, digits, _ and - only (Kannel sends it as written in a URL)')
          .optional(),
        /** Kannel's addresses (IPs or CIDRs): callbacks from anywhere else are refused. */
        callbackAllowFrom: z
          .array(z.string().refine(isAddressOrCidr, 'expected an IP address or CIDR (10.0.0.5, 10.0.0.0/24)'))
          .optional(),
        requestTimeoutMs: z.number().int().min(100).default(10_000),
      })
      .strict()
      .prefault({}),
    smpp: z
      .object({
        host: z.string().default('127.0.0.1'),
        port: z.number().int().min(1).max(65535).default(2775),
        systemId: z.string().min(1).default('kampung'),
        password: z.string().optional(),
        sourceAddr: z.string().min(1).default('KAMPUNG'),
        reconnectMs: z.number().int().min(100).default(5_000),
        submitTimeoutMs: z.number().int().min(100).default(10_000),
      })
      .strict()
      .prefault({}),
    outbox: z
      .object({
        retryBaseMs: z.number().int().min(10).default(defaultOutboxOptions.retryBaseMs),
        retryMaxMs: z.number().int().min(10).default(defaultOutboxOptions.retryMaxMs),
        maxAttempts: z.number().int().min(1).max(1000).default(defaultOutboxOptions.maxAttempts),
        maxAgeMs: z.number().int().min(1000).default(defaultOutboxOptions.maxAgeMs),
        /** Segments per farmer per Asia/Jakarta day (critical messages pass regardless); 0: no budget. */
        dailySegmentBudget: z.number().int().min(0).default(defaultOutboxOptions.dailySegmentBudget),
        inDoubtHoldMs: z.number().int().min(0).default(defaultOutboxOptions.inDoubtHoldMs),
        pollIntervalMs: z.number().int().min(0).default(defaultOutboxOptions.pollIntervalMs),
        maxInFlight: z.number().int().min(1).max(256).default(defaultOutboxOptions.maxInFlight),
        /** Answer texts from numbers that are not registered farmers (each answer is a paid SMS). */
        unregisteredReplies: z.boolean().default(defaultOutboxOptions.unregisteredReplies),
        /** When on: at most this many such answers per rolling hour, all numbers together. */
        unregisteredRepliesPerHour: z
          .number()
          .int()
          .min(0)
          .default(defaultOutboxOptions.unregisteredRepliesPerHour),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.sender === 'kannel' && !c.kannel.password) {
      ctx.addIssue({
        code: 'custom',
        path: ['kannel', 'password'],
        message: 'required when sender is kannel (KAMPUNG_KANNEL_PASSWORD)',
      })
    }
    if (c.sender === 'kannel' && !c.kannel.callbackToken && !c.kannel.callbackAllowFrom?.length) {
      ctx.addIssue({
        code: 'custom',
        path: ['kannel', 'callbackToken'],
        message:
          "sender kannel needs callbackToken (KAMPUNG_KANNEL_CALLBACK_TOKEN) and/or callbackAllowFrom (Kannel's address): " +
          "without either, anyone who reaches the API could send farmers' replies (STOP, OK <id>) and delivery reports",
      })
    }
    if (c.sender === 'smpp' && !c.smpp.password) {
      ctx.addIssue({
        code: 'custom',
        path: ['smpp', 'password'],
        message: 'required when sender is smpp (KAMPUNG_SMPP_PASSWORD)',
      })
    }
  })

export type NotifyConfig = z.infer<typeof notifySchema>
