// The Deno baseline: a bare fetch pass-through, no features. TARGET=http://127.0.0.1:9001 PORT=8082
const target = Deno.env.get('TARGET')!
// onListen: the line the test harness waits for.
Deno.serve(
  { hostname: '127.0.0.1', port: Number(Deno.env.get('PORT')), onListen: ({ port }) => console.log(JSON.stringify({ event: 'listening', port })) },
  (req) => {
    const url = new URL(req.url)
    return fetch(target + url.pathname + url.search, { method: req.method, headers: req.headers, body: req.body, redirect: 'manual' })
  },
)
