// The Deno baseline through the proxy's own upstream client (undici over node:net, ADR 10) instead of
// Deno's fetch: what the client alone costs against bare-deno.ts. TARGET=http://127.0.0.1:9001 PORT=8083
import { upstreamFetch } from '../runtimes/deno-upstream-fetch.ts'

const target = Deno.env.get('TARGET')!
const send = upstreamFetch(() => ({ rejectUnauthorized: true })) // plain http targets: no TLS setting is read
Deno.serve({ hostname: '127.0.0.1', port: Number(Deno.env.get('PORT')), onListen: () => {} }, (req) => {
  const url = new URL(req.url)
  return send(target + url.pathname + url.search, { method: req.method, headers: req.headers, body: req.body })
})
