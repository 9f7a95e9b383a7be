// The baseline: a bare Bun fetch pass-through, no features. TARGET=http://127.0.0.1:9001 PORT=8081
const target = process.env.TARGET!
const server = Bun.serve({
  hostname: '127.0.0.1',
  port: Number(process.env.PORT),
  idleTimeout: 255,
  maxRequestBodySize: Number.MAX_SAFE_INTEGER, // as the proxy: no 413 of Bun's own past 128 MiB
  fetch(req) {
    const url = new URL(req.url)
    return fetch(target + url.pathname + url.search, { method: req.method, headers: req.headers, body: req.body, redirect: 'manual', decompress: false })
  },
})
console.log(JSON.stringify({ event: 'listening', port: server.port })) // what the test harness waits for
export {} // a module: its names stay its own
