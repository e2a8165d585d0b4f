// @ts-expect-error: a browser module without type declarations (the console has no build step)
import { DICTIONARIES } from '../../src/console/public/i18n.js'

export type Dictionary = Record<string, string>
export const ID = DICTIONARIES.id as Dictionary
export const EN = DICTIONARIES.en as Dictionary

/**
 * English texts that must not be on an Indonesian page: every English entry (of the keys `keep`
 * admits) that differs from its Indonesian one, by its longest fixed piece (templates: the text
 * between the {placeholders}); pieces under 5 characters or also in the Indonesian text ("diameter +")
 * are left out.
 */
export function englishOnly(keep: (key: string) => boolean = () => true): string[] {
  return Object.keys(EN)
    .filter((k) => keep(k) && EN[k] !== ID[k])
    .map(
      (k) =>
        [
          k,
          EN[k]!.split(/\{\w+\}/)
            .sort((a, b) => b.length - a.length)[0]!
            .trim(),
        ] as const,
    )
    .filter(([k, piece]) => piece.length >= 5 && !ID[k]!.includes(piece))
    .map(([, piece]) => piece)
}
