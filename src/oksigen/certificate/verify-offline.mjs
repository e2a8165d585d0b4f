#!/usr/bin/env node
// Checks a Sedekah Oksigen verification record with nothing but Node.js (>= 18) and the published
// public keys: no project code, no network. Usage:
//   node verify-offline.mjs <record.json> <keys.json>
// record.json: the body of GET /verify/<id>.json (or just its "signed" member);
// keys.json:   the body of GET /verify/keys.json.
import { createPublicKey, verify } from 'node:crypto'
import { readFileSync } from 'node:fs'

const CONTEXT = 'smart-kampung/sedekah-oksigen/verification-record/v1\n'

// RFC 8785 (JCS) for the values a record holds: sorted keys, no whitespace.
function canonical(v) {
  if (v === null || typeof v !== 'object') return JSON.stringify(v)
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`
  const keys = Object.keys(v)
    .filter((k) => v[k] !== undefined)
    .sort()
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`).join(',')}}`
}

const [recordPath, keysPath] = process.argv.slice(2)
if (!recordPath || !keysPath) {
  console.error('usage: node verify-offline.mjs <record.json> <keys.json>')
  process.exit(2)
}
const body = JSON.parse(readFileSync(recordPath, 'utf8'))
const signed = body.signed ?? body
const keys = JSON.parse(readFileSync(keysPath, 'utf8')).keys
const key = keys.find((k) => k.keyId === signed.keyId)
let verdict
if (!key) verdict = `INVALID: unknown key ${signed.keyId}`
else if (signed.record?.keyId !== signed.keyId) verdict = 'INVALID: keyId inside and outside differ'
else {
  const sig = Buffer.from(signed.signature, 'base64url')
  const ok =
    sig.length === 64 &&
    sig.toString('base64url') === signed.signature &&
    verify(
      null,
      Buffer.from(CONTEXT + canonical(signed.record), 'utf8'),
      createPublicKey(key.publicKeyPem),
      sig,
    )
  verdict = ok ? 'VALID' : 'INVALID: bad signature'
}
const r = signed.record ?? {}
console.log(`${verdict}  id=${r.id} tree=${r.treeId} species=${r.species} key=${signed.keyId}`)
process.exit(verdict === 'VALID' ? 0 : 1)
