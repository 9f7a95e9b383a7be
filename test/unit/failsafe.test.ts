import { describe, expect, test } from 'bun:test'
import { createFailsafeFetch } from '../../src/client/index.ts'

/** A fake fetch: records each URL and answers as `answer` says. */
function fakeFetch(answer: (url: string) => Response | Error) {
  const urls: string[] = []
  const fetch = async (input: string) => {
    urls.push(input)
    const a = answer(input)
    if (a instanceof Error) throw a
    return a
  }
  return { urls, fetch: fetch as unknown as typeof globalThis.fetch }
}

const proxyError = (code: string) => new Response('{}', { status: 503, headers: { 'x-proxy-error': code } })

describe('createFailsafeFetch', () => {
  test('after maxErrors consecutive proxy faults it goes direct for cooldownMs, then tries the proxy again', async () => {
    let clock = 0
    let proxyUp = false
    const fake = fakeFetch((url) =>
      url.startsWith('http://proxy') ? (proxyUp ? new Response('via proxy') : proxyError('UPSTREAM_UNREACHABLE')) : new Response('direct'),
    )
    const switches: string[] = []
    const f = createFailsafeFetch({
      proxyBase: 'http://proxy',
      directBase: 'http://direct',
      maxErrors: 3,
      cooldownMs: 1000,
      fetch: fake.fetch,
      now: () => clock,
      onSwitch: (to) => switches.push(to),
    })
    for (let i = 0; i < 3; i++) expect((await f('/a')).status).toBe(503)
    expect(await (await f('/b')).text()).toBe('direct')
    clock = 999
    expect(await (await f('/c')).text()).toBe('direct')
    clock = 1000
    proxyUp = true
    expect(await (await f('/d')).text()).toBe('via proxy')
    expect(fake.urls).toEqual(['http://proxy/a', 'http://proxy/a', 'http://proxy/a', 'http://direct/b', 'http://direct/c', 'http://proxy/d'])
    expect(switches).toEqual(['direct', 'proxy'])
  })
  test("connection failures count; the provider's own errors and request errors do not", async () => {
    let answer: Response | Error = new Error('connection refused')
    const fake = fakeFetch(() => answer)
    const f = createFailsafeFetch({ proxyBase: 'http://proxy', directBase: 'http://direct', maxErrors: 2, fetch: fake.fetch, now: () => 0 })
    await expect(f('/x')).rejects.toThrow('connection refused')
    answer = new Response('provider down', { status: 500 }) // no x-proxy-error: resets
    await f('/x')
    answer = proxyError('NO_ROUTE') // the request's fault: resets too
    await f('/x')
    answer = new Error('connection refused')
    await expect(f('/x')).rejects.toThrow()
    expect(fake.urls.every((u) => u.startsWith('http://proxy'))).toBe(true)
    await expect(f('/x')).rejects.toThrow()
    answer = new Response('direct')
    await f('/y')
    expect(fake.urls.at(-1)).toBe('http://direct/y')
  })
  test('takes a URL under either base', async () => {
    const fake = fakeFetch(() => new Response('ok'))
    const f = createFailsafeFetch({ proxyBase: 'http://proxy/', directBase: 'http://direct', fetch: fake.fetch })
    await f('http://direct/p?q=1')
    expect(fake.urls).toEqual(['http://proxy/p?q=1'])
    await expect(f('http://elsewhere/x')).rejects.toThrow('takes a path or a URL under')
  })
})
