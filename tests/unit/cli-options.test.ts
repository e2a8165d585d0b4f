import { describe, expect, it } from 'vitest'
import { formatCoordinate } from '../../src/cli/devices.ts'
import { positiveInt } from '../../src/cli/options.ts'

describe('CLI option checks', () => {
  it('--limit takes whole numbers of 1 or more and names itself when refusing', () => {
    const limit = positiveInt('--limit')
    expect(limit('1')).toBe(1)
    expect(limit('50')).toBe(50)
    for (const bad of ['-5', '0', '1.5', 'abc', '', '1e3', '9007199254740993'])
      expect(() => limit(bad), bad).toThrow(`--limit must be a whole number of 1 or more, not "${bad}".`)
  })

  it('coordinates print to 6 decimals without float noise', () => {
    expect(formatCoordinate(-8.198099999999998)).toBe('-8.1981')
    expect(formatCoordinate(114.3317)).toBe('114.3317')
    expect(formatCoordinate(undefined)).toBe('')
  })
})
