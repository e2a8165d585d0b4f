import { describe, expect, it } from 'vitest'
import {
  inTopicScheme,
  isStatusTopic,
  parseDeviceTopic,
  parseStatusMessage,
  statusMessage,
  TOPIC_LEAVES,
  topics,
} from '../../src/telemetry/index.ts'

describe('the topic scheme kampung/<village>/<device>/<leaf>', () => {
  it('builds every leaf of a device and the filters the consumers subscribe to', () => {
    expect(TOPIC_LEAVES.map((leaf) => topics[leaf]('kemiren', 'soil-01'))).toEqual([
      'kampung/kemiren/soil-01/up',
      'kampung/kemiren/soil-01/errors',
      'kampung/kemiren/soil-01/status',
      'kampung/kemiren/soil-01/health',
      'kampung/kemiren/soil-01/down',
      'kampung/kemiren/soil-01/ack',
    ])
    expect(topics.filter('up')).toBe('kampung/+/+/up')
    expect(topics.filter('status', 'licin')).toBe('kampung/licin/+/status')
    expect(topics.all).toBe('kampung/#')
  })

  it('parses a device topic back, and nothing with other than four non-empty levels', () => {
    for (const leaf of TOPIC_LEAVES)
      expect(parseDeviceTopic(topics[leaf]('kemiren', 'gw-1'))).toEqual({
        village: 'kemiren',
        device: 'gw-1',
        leaf,
      })
    for (const bad of [
      'kampung/kemiren/gw-1',
      'kampung/kemiren/gw-1/up/extra',
      'kampung//gw-1/up',
      'kampung/kemiren//up',
      'kampung/kemiren/gw-1/',
      'kampungx/kemiren/gw-1/up',
      'other/kemiren/gw-1/up',
      '$SYS/kemiren/gw-1/status',
      '',
    ])
      expect(parseDeviceTopic(bad), bad).toBeUndefined()
    expect(inTopicScheme('kampung/#')).toBe(true)
    expect(inTopicScheme('$share/g/kampung/+/+/up')).toBe(false)
    expect(isStatusTopic('kampung/kemiren/gw-1/status')).toBe(true)
    expect(isStatusTopic('$SYS/broker/status')).toBe(false)
  })

  it('parses the broker’s and gateways’ retained status; anything else is not a status', () => {
    expect(parseStatusMessage('kampung/kemiren/gw-1/status', '{"state":"offline","atMs":5}')).toEqual({
      village: 'kemiren',
      device: 'gw-1',
      state: 'offline',
      atMs: 5,
    })
    expect(
      parseStatusMessage('kampung/kemiren/gw-1/status', Buffer.from('{"state":"online"}'), 9)?.atMs,
    ).toBe(9)
    // a gateway's health report carries more than the state
    expect(
      parseStatusMessage('kampung/kemiren/gw-1/status', '{"state":"online","atMs":7,"queueDepth":3}')?.state,
    ).toBe('online')
    expect(parseStatusMessage('kampung/kemiren/gw-1/status', statusMessage('offline', 11))).toMatchObject({
      state: 'offline',
      atMs: 11,
    })
    expect(parseStatusMessage('kampung/kemiren/gw-1/up', '{"state":"online"}')).toBeUndefined()
    expect(parseStatusMessage('kampung/kemiren/gw-1/status/x', '{"state":"online"}')).toBeUndefined()
    expect(parseStatusMessage('kampung/kemiren/gw-1/status', 'not json')).toBeUndefined()
    expect(parseStatusMessage('kampung/kemiren/gw-1/status', 'null')).toBeUndefined()
    expect(parseStatusMessage('kampung/kemiren/gw-1/status', '{"state":"sleeping"}')).toBeUndefined()
  })
})
