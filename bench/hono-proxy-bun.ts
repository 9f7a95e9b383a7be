// A peer: Hono's own `hono/proxy` helper on Bun, round-robin over the origins, as its docs show it
// (`proxy(url, { ...c.req })`). TARGETS=http://127.0.0.1:9001,http://127.0.0.1:9002 PORT=8082
import { Hono } from 'hono'
import { proxy } from 'hono/proxy'

const targets = process.env.TARGETS!.split(',')
let next = 0
const app = new Hono()
app.all('*', (c) => {
  const target = targets[next++ % targets.length]!
  const url = new URL(c.req.url)
  return proxy(target + url.pathname + url.search, { raw: c.req.raw })
})
Bun.serve({ hostname: '127.0.0.1', port: Number(process.env.PORT), idleTimeout: 255, fetch: app.fetch })
