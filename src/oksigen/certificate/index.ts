export { canonicalJson } from './canonical.ts'
export {
  KeyRing,
  type KeyRingOptions,
  keyIdFor,
  type PublicKeyInfo,
  type PublicKeySource,
  StaticKeySet,
} from './keyring.ts'
export { esc, growthChartSvg, type PageView, renderPage } from './page.ts'
export { normalizeBaseUrl, qrPng, qrSvg, verifyUrl } from './qr.ts'
export {
  buildRecordDraft,
  type DailyPoint,
  type Decision,
  type Evidence,
  jakartaDay,
  MAX_DAILY_POINTS,
  MAX_LOCATION_DECIMALS,
  newRecordId,
  RECORD_ID_PATTERN,
  type RecordDraft,
  type RecordEstimate,
  type RecordInput,
  thinDaily,
  type VerificationRecord,
  verificationRecordSchema,
} from './record.ts'
export {
  SIGNING_CONTEXT,
  type SignedRecord,
  signingBytes,
  signRecord,
  type VerifyReason,
  type VerifyResult,
  verifySignedRecord,
} from './sign.ts'
export { type CertificateStore, FileCertificateStore, MemoryCertificateStore } from './store.ts'
