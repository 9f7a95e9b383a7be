import { Hono } from 'hono'
import type { ConfigInput } from '../config/schema.ts'

/**
 * The demo's origins: Web-standard handlers any runtime can serve. `flaky` fails a share of its
 * requests (503, or a slow answer) so the demo shows the proxy's errors and counters at work.
 */
export function demoOrigin(name: string, flaky = false, random: () => number = Math.random): Hono {
  const app = new Hono()
  app.use('*', async (c, next) => {
    if (flaky && c.req.path !== '/healthz') {
      const roll = random()
      if (roll < 0.2) return c.json({ origin: name, error: 'flaky origin failed this one' }, 503)
      if (roll < 0.3) await new Promise((resolve) => setTimeout(resolve, 1500))
    }
    await next()
  })
  app.get('/healthz', (c) => c.text('ok'))
  app.get('/slow', async (c) => {
    const ms = Math.min(Number(c.req.query('ms') ?? 2000) || 0, 60000)
    await new Promise((resolve) => setTimeout(resolve, ms))
    return c.json({ origin: name, sleptMs: ms })
  })
  app.all('*', (c) =>
    c.json({
      origin: name,
      method: c.req.method,
      path: c.req.path,
      requestId: c.req.header('x-request-id'),
      forwardedFor: c.req.header('x-forwarded-for'),
      timeBudgetMs: Number(c.req.header('x-request-timeout-ms')),
    }),
  )
  return app
}

/** The demo's proxy config: both origins behind one round-robin upstream, timeouts short enough to see. */
export function demoConfig(stableUrl: string, flakyUrl: string, port: number): ConfigInput {
  return {
    listen: { hostname: '127.0.0.1', port },
    upstreams: {
      demo: {
        targets: [{ url: stableUrl }, { url: flakyUrl }],
        balancer: 'round-robin',
        timeoutMs: 5000,
        tryTimeoutMs: 1000,
      },
    },
    routes: [{ pathPrefix: '/', upstream: 'demo' }],
  }
}

/** What the demo prints once it is up. */
export function demoBanner(proxyUrl: string, adminPrefix: string): string {
  return [
    '',
    `edge-proxy demo: two local origins (one flaky) behind ${proxyUrl}`,
    '',
    `  curl -i ${proxyUrl}/hello                  round-robin across both origins`,
    `  curl -i ${proxyUrl}/slow?ms=3000           the 1 s attempt timeout: 504 UPSTREAM_TIMEOUT`,
    `  open ${proxyUrl}${adminPrefix}/             the live dashboard, in a browser`,
    `  curl -s ${proxyUrl}${adminPrefix}/status   targets, in-flight, counts, latency`,
    `  curl -s ${proxyUrl}${adminPrefix}/healthz`,
    '',
    'Ctrl-C drains in-flight requests and stops.',
    '',
  ].join('\n')
}
