import { expect } from 'bun:test'
import { readFileSync } from 'node:fs'
import { openWs, startWsOrigin } from '../../support/ws-origin.ts'
import { makeCertificates, type TestCertificates } from '../../support/tls.ts'
import { oneUpstream, proxyError, type Scenario, type ScenarioContext } from '../context.ts'

let certificates: TestCertificates | undefined
/** Made once per run: openssl takes a moment. */
const certs = () => (certificates ??= makeCertificates())

/** An HTTPS origin with the private CA's certificate, answering with the scheme and path it saw. */
function httpsOrigin(ctx: ScenarioContext): string {
  const { certFile, keyFile } = certs()
  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    tls: { cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8') },
    fetch: (request) => new Response(`tls origin saw ${new URL(request.url).pathname}`),
  })
  ctx.defer(() => server.stop(true))
  return `https://127.0.0.1:${server.port}`
}

/** curl through the proxy's HTTPS listener, trusting its certificate: the body and the HTTP version used. */
async function curl(url: string, version: '--http1.1' | '--http2'): Promise<{ body: string; httpVersion: string }> {
  // Spawned, not run synchronously: the origin answering the proxy lives in this process.
  const proc = Bun.spawn(['curl', '-sS', '--max-time', '10', version, '--cacert', certs().selfSignedFile, '-w', '\n%{http_version}', url], { stderr: 'pipe' })
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited])
  if (code !== 0) throw new Error(`curl failed: ${stderr}`)
  const at = stdout.lastIndexOf('\n')
  return { body: stdout.slice(0, at), httpVersion: stdout.slice(at + 1) }
}

const WORKERS_TLS = "TLS to clients is Cloudflare's edge, and a Worker's fetch takes no CA or server name (see docs/runtimes.md)"

export const tls: Scenario[] = [
  {
    name: 'HTTPS listener (self-signed certificate from openssl): curl --http1.1 through it, --http2 where the runtime negotiates it; X-Forwarded-Proto is https',
    needs: ['openssl', 'curl'],
    skip: { workers: WORKERS_TLS },
    async run(ctx) {
      const origin = ctx.origin((request) => new Response(`proto=${request.headers.get('x-forwarded-proto')}`))
      const { selfSignedFile, selfSignedKeyFile } = certs()
      const proxy = await ctx.proxy(
        oneUpstream([origin.url], {}, { listen: { hostname: '127.0.0.1', tls: { certFile: selfSignedFile, keyFile: selfSignedKeyFile } } }),
      )
      const url = `https://127.0.0.1:${proxy.port}/hello`
      expect(await curl(url, '--http1.1')).toEqual({ body: 'proto=https', httpVersion: '1.1' })
      // Deno negotiates HTTP/2 by ALPN; Bun.serve speaks HTTP/1.1, so curl falls back to it.
      expect(await curl(url, '--http2')).toEqual({ body: 'proto=https', httpVersion: ctx.runtime.name === 'deno' ? '2' : '1.1' })
    },
  },
  {
    name: 'HTTPS upstream with a private CA: trusted through tls.caFile, refused (502, nothing sent) without it',
    needs: ['openssl'],
    skip: { workers: WORKERS_TLS },
    async run(ctx) {
      const target = httpsOrigin(ctx)
      const proxy = await ctx.proxy({
        upstreams: {
          trusted: { targets: [{ url: target }], tls: { caFile: certs().caFile } },
          named: { targets: [{ url: target.replace('127.0.0.1', 'localhost') }], tls: { caFile: certs().caFile, serverName: 'origin.test' } },
          untrusted: { targets: [{ url: target }], retry: { attempts: 0 } },
        },
        routes: [
          { pathPrefix: '/', upstream: 'trusted' },
          { pathPrefix: '/named', upstream: 'named' },
          { pathPrefix: '/untrusted', upstream: 'untrusted' },
        ],
      })
      const trusted = await fetch(`${proxy.url}/a`)
      expect(await trusted.text()).toBe('tls origin saw /a')
      expect(await (await fetch(`${proxy.url}/named`)).text()).toBe('tls origin saw /named')
      const untrusted = await fetch(`${proxy.url}/untrusted`)
      expect(untrusted.status).toBe(502)
      expect((await proxyError(untrusted)).code).toBe('UPSTREAM_UNREACHABLE')
      const status = untrusted.headers.get('proxy-status')!
      expect(status).toContain('error=tls_certificate_error')
      expect(status).not.toContain('request-sent')
    },
  },
  {
    name: 'WebSocket to a wss:// target with a private CA, trusted through tls.caFile',
    needs: ['openssl'],
    skip: { workers: WORKERS_TLS, deno: "Deno's WebSocket takes no CA option: a private CA for wss:// targets needs DENO_CERT (see docs/runtimes.md)" },
    async run(ctx) {
      const { certFile, keyFile, caFile } = certs()
      const origin = startWsOrigin({ cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8') })
      ctx.defer(() => origin.stop())
      const proxy = await ctx.proxy(oneUpstream([origin.url], { tls: { caFile } }))
      const ws = await openWs(proxy.url)
      ws.socket.send('over tls')
      expect(await ws.next()).toBe('over tls')
      ws.socket.close()
    },
  },
  {
    name: 'a TLS file that cannot be read stops start-up with an error naming its field',
    needs: ['openssl'],
    skip: { workers: WORKERS_TLS },
    async run(ctx) {
      const config = oneUpstream(
        ['http://127.0.0.1:9'],
        { tls: { caFile: '/nonexistent/ca.pem' } },
        { listen: { tls: { certFile: '/nonexistent/cert.pem', keyFile: certs().selfSignedKeyFile } } },
      )
      const failed = ctx.proxy(config)
      await expect(failed).rejects.toThrow('listen.tls.certFile: cannot read /nonexistent/cert.pem')
      await expect(failed).rejects.toThrow('upstreams.api.tls.caFile: cannot read /nonexistent/ca.pem')
    },
  },
]
