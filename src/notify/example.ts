/**
 * Runnable example (see README.md): an outbox over the console sender, at 02:00 WIB by an injected
 * clock. A non-critical alert is held for the morning, a critical one goes at once, a bad number
 * fails alone, the same key twice is one SMS, and a reply reaches onInbound.
 *   KAMPUNG_LOG_LEVEL=silent npx tsx src/notify/example.ts
 */
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ConsoleSender, Outbox, smsEncoding } from './index.ts'

const dir = await mkdtemp(join(tmpdir(), 'notify-example-'))
const at = (hhmm: string) => Date.parse(`2026-03-10T${hhmm}:00+07:00`)
let nowMs = at('02:00')
const sender = new ConsoleSender({
  write: (m) => console.log(`  SMS #${m.id} → ${m.to} [${m.coding}] ${m.text}`),
})
const outbox = new Outbox({ path: join(dir, 'outbox.sqlite'), sender, clock: () => nowMs, pollIntervalMs: 0 })
outbox.onInbound((mo) => console.log(`  reply from ${mo.from} via ${mo.via}: "${mo.text}"`))
await outbox.start()

const dry = 'Sawah 1 (Kemiren): tanah kering 18%. Siram sekitar 12 mm, ±1.800 liter untuk 0,15 ha.'
console.log('encoding:', smsEncoding(dry), smsEncoding('Bu Siti ☔'))
console.log('02:00 WIB enqueue:')
console.log(
  ' ',
  outbox.enqueue({ key: 'alert:42:firing:1', to: '+6281234567890', text: dry, notBeforeMs: at('06:00') }),
)
console.log(
  ' ',
  outbox.enqueue({
    key: 'alert:43:firing:1',
    to: '+6281234567890',
    text: 'BANJIR di Sawah 2!',
    critical: true,
  }),
)
console.log(' ', outbox.enqueue({ key: 'alert:44:firing:1', to: '081234', text: 'nomor salah' }))
console.log(' ', outbox.enqueue({ key: 'alert:42:firing:1', to: '+6281234567890', text: dry }))
console.log('02:00 WIB dispatch, accepted:', await outbox.dispatchDue())
nowMs = at('06:00')
console.log('06:00 WIB dispatch, accepted:', await outbox.dispatchDue())
sender.inject({ from: '+6281234567890', to: '1234', text: 'OK 42' })
await new Promise((r) => setTimeout(r, 50))
for (const r of outbox.list())
  console.log(`  #${r.id} ${r.state}${r.reason ? ` (${r.reason})` : ''} segments=${r.segments}`)
console.log('depth:', outbox.depth())
await outbox.stop()
