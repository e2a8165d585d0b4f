/**
 * The payload formats a device may send, one decoder each (`DECODERS` in index.ts). The list lives
 * with the decoders: the registry stores a device's format and imports it from here.
 */
export const PAYLOAD_FORMATS = ['json', 'senml', 'lpp', 'chirpstack', 'tts'] as const
export type PayloadFormat = (typeof PAYLOAD_FORMATS)[number]
