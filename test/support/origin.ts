import { deferred } from './wait.ts'

/** What an origin saw of one request. */
export interface Seen {
  method: string
  path: string
  headers: Headers
  /** Resolves when the proxy (the origin's client) aborts the request. */
  aborted: Promise<void>
}

export interface Origin {
  url: string
  port: number
  seen: Seen[]
  /** Resolves with the next request the origin receives. */
  nextRequest(): Promise<Seen>
  stop(): Promise<void>
}

export type OriginHandler = (request: Request, seen: Seen) => Response | Promise<Response>

/** A real HTTP origin on 127.0.0.1 and a free port, recording what reaches it. */
export function startOrigin(handler: OriginHandler = () => new Response('ok')): Origin {
  const seen: Seen[] = []
  let waiters: ((s: Seen) => void)[] = []
  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    idleTimeout: 60,
    maxRequestBodySize: Number.MAX_SAFE_INTEGER,
    fetch(request) {
      const url = new URL(request.url)
      const aborted = deferred()
      request.signal.addEventListener('abort', () => aborted.resolve(), { once: true })
      const entry: Seen = { method: request.method, path: url.pathname + url.search, headers: request.headers, aborted: aborted.promise }
      seen.push(entry)
      const ready = waiters
      waiters = []
      for (const w of ready) w(entry)
      return handler(request, entry)
    },
  })
  return {
    url: `http://127.0.0.1:${server.port}`,
    port: server.port!,
    seen,
    nextRequest: () => new Promise((resolve) => waiters.push(resolve)),
    stop: () => server.stop(true),
  }
}

/** A port on 127.0.0.1 that nothing listens on (bound, then released): to listen on, or to be refused by. */
export function freePort(): number {
  const server = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: () => new Response() })
  const port = server.port!
  server.stop(true)
  return port
}

/** A response that never comes: resolves only when the proxy gives up on it. */
export function never(seen: Seen): Promise<Response> {
  return seen.aborted.then(() => new Response('too late'))
}
