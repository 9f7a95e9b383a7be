/** A proxy app whose upstream calls are answered by a script instead of the network: unit tests of the request path. */
import { createProxy, parseConfig, type ConfigInput, type ProxyOptions, type UpstreamFetch } from '../../src/index.ts'
import { codeFault } from '../../runtimes/call-faults.ts'

/** What the scripted upstream fetch saw: the target origin and method of each call. */
export interface Call {
  target: string
  method: string
  body: string
}

/** A connection refused before anything was sent, as Bun reports it. */
export const refused = () => Object.assign(new Error('Unable to connect'), { code: 'ConnectionRefused' })
/** A connection lost after the request went out: it may have reached the upstream. */
export const reset = () => new Error('socket closed')

/** A proxy whose upstream calls go to `answer` instead of the network. */
export function scripted(
  answer: (call: Call, init: RequestInit) => Response | Error | Promise<Response>,
  upstream: Partial<ConfigInput['upstreams'][string]> = {},
  options: Omit<ProxyOptions, 'fetch'> = {},
  rest: Partial<ConfigInput> = {},
) {
  const calls: Call[] = []
  const fetch: UpstreamFetch = async (input, init) => {
    // As a real fetch does, an abort ends the call at once, while the body is sent or the answer awaited.
    const signal = init.signal
    const aborted = new Promise<never>((_, reject) => {
      if (signal?.aborted) reject(signal.reason)
      signal?.addEventListener('abort', () => reject(signal.reason), { once: true })
    })
    const read = async () => (init.body instanceof Uint8Array ? new TextDecoder().decode(init.body) : init.body ? await new Response(init.body).text() : '')
    const body = await Promise.race([read(), aborted])
    const call = { target: new URL(input).origin, method: init.method ?? 'GET', body }
    calls.push(call)
    const outcome = await Promise.race([answer(call, init), aborted])
    if (outcome instanceof Error) throw outcome
    return outcome
  }
  const config = parseConfig({
    upstreams: {
      api: {
        targets: [{ url: 'http://127.0.0.1:9001' }, { url: 'http://127.0.0.1:9002' }],
        breaker: { failureThreshold: 1000000 },
        retry: { backoffMs: 1, maxBackoffMs: 2 },
        ...upstream,
      },
    },
    routes: [{ pathPrefix: '/', upstream: 'api' }],
    ...rest,
  })
  // Backoffs draw 0.99 of their range (unless the test brings its own random): the longest wait each step
  // allows. The client is local (admin answers it).
  return { app: createProxy(config, { clientAddress: () => '127.0.0.1', faultOf: codeFault, random: () => 0.99, ...options, fetch }), calls }
}
