import QRCode from 'qrcode'
import { KampungError } from '../../errors.ts'

/*
 * Error correction M (15 %) survives a scuffed printout; a 2-module quiet zone is the minimum
 * scanners tolerate on a page with a margin around it. PNG at 8 px per module prints sharp.
 */
const QR_OPTIONS = { errorCorrectionLevel: 'M', margin: 2 } as const
const PNG_SCALE_PX = 8

/** `https://host/base` without a trailing slash; throws on anything but an absolute http(s) URL. */
export function normalizeBaseUrl(publicBaseUrl: string): string {
  let url: URL
  try {
    url = new URL(publicBaseUrl)
  } catch (err) {
    throw new KampungError('invalid_public_url', `publicBaseUrl: "${publicBaseUrl}" is not a URL`, {
      retryable: false,
      cause: err,
    })
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw new KampungError('invalid_public_url', `publicBaseUrl: expected http(s), got ${url.protocol}`, {
      retryable: false,
    })
  if (url.search || url.hash)
    throw new KampungError('invalid_public_url', 'publicBaseUrl: no query or fragment', { retryable: false })
  return url.toString().replace(/\/+$/, '')
}

/** The public page for one record: what the QR code points to. */
export function verifyUrl(publicBaseUrl: string, id: string): string {
  return `${normalizeBaseUrl(publicBaseUrl)}/verify/${encodeURIComponent(id)}`
}

export function qrPng(url: string): Promise<Buffer> {
  return QRCode.toBuffer(url, { ...QR_OPTIONS, type: 'png', scale: PNG_SCALE_PX })
}

export function qrSvg(url: string): Promise<string> {
  return QRCode.toString(url, { ...QR_OPTIONS, type: 'svg' })
}
