/**
 * The overload bench's origin (bench/overload.ts): a service of fixed capacity, WORKERS requests
 * served at once, each taking SERVICE_MS; past that, requests queue (first come, first served), as a
 * real service's thread pool does. `POST /__capacity?workers=N` changes the worker count mid-run;
 * `GET /__count` answers how many requests it has served. Listens on PORT.
 */
let workers = Number(process.env.WORKERS ?? 10)
const serviceMs = Number(process.env.SERVICE_MS ?? 20)
let busy = 0
let served = 0
const queue: (() => void)[] = []

/** Waits for a free worker, FIFO. */
function acquire(): Promise<void> {
  if (busy >= workers) return new Promise<void>((resolve) => queue.push(resolve))
  busy++
  return Promise.resolve()
}
const release = () => {
  const next = busy <= workers ? queue.shift() : undefined
  if (next) next()
  else busy--
}

Bun.serve({
  hostname: '127.0.0.1',
  port: Number(process.env.PORT),
  idleTimeout: 120,
  async fetch(request) {
    const url = new URL(request.url)
    if (url.pathname === '/__count') return Response.json({ served, busy, queued: queue.length })
    if (url.pathname === '/__capacity') {
      workers = Number(url.searchParams.get('workers'))
      return Response.json({ workers })
    }
    await acquire()
    try {
      await Bun.sleep(serviceMs) // the service's own work: what its capacity is made of
      served++
      return new Response('served')
    } finally {
      release()
    }
  },
})
console.log('ready')
export {} // a module: its names stay its own
