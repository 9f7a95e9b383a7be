import { afterEach, expect, spyOn, setSystemTime, test } from 'bun:test'
import { accessLog } from '../../src/events/access-log.ts'
import { ProxyEvents, type ProxyEventMap } from '../../src/events/events.ts'

const event: ProxyEventMap['request'] = {
  requestId: 'r-1',
  method: 'GET',
  path: '/a "quoted" path',
  client: '127.0.0.1',
  upstream: 'api',
  route: '/',
  status: 200,
  durationMs: 3,
  tries: 1,
  bytesIn: null,
  bytesOut: 2,
}

afterEach(() => setSystemTime())

test('one JSON line per request: time (to the millisecond, as the clock moves), level, event, then every field of the request', () => {
  const lines: string[] = []
  const log = spyOn(console, 'log').mockImplementation((line: string) => void lines.push(line))
  const events = new ProxyEvents()
  const stop = accessLog(events)
  try {
    setSystemTime(new Date('2026-12-07T10:00:00.001Z'))
    events.emit('request', event)
    events.emit('request', { ...event, requestId: 'r-2' })
    setSystemTime(new Date('2026-12-07T10:00:00.002Z'))
    events.emit('request', { ...event, requestId: 'r-3', status: 502, code: 'UPSTREAM_UNREACHABLE', target: 'http://t:1' })
  } finally {
    stop()
    log.mockRestore()
  }
  const parsed = lines.map((line) => JSON.parse(line))
  expect(parsed.map((p) => p.time)).toEqual(['2026-12-07T10:00:00.001Z', '2026-12-07T10:00:00.001Z', '2026-12-07T10:00:00.002Z'])
  expect(parsed[0]).toEqual({ time: '2026-12-07T10:00:00.001Z', level: 'info', event: 'access', ...event })
  expect(parsed[2]).toMatchObject({ requestId: 'r-3', status: 502, code: 'UPSTREAM_UNREACHABLE', target: 'http://t:1' })
  expect('code' in parsed[0]).toBe(false) // an undefined field is left out
})
