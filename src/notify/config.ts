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
        /** Required on DLR and MO callbacks when set (add `&token=...` to the smsbox get-url). */
        callbackToken: z
          .string()
          .regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, _ and - only (it travels in URLs)')
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
    if (c.sender === 'smpp' && !c.smpp.password) {
      ctx.addIssue({
        code: 'custom',
        path: ['smpp', 'password'],
        message: 'required when sender is smpp (KAMPUNG_SMPP_PASSWORD)',
      })
    }
  })

export type NotifyConfig = z.infer<typeof notifySchema>
