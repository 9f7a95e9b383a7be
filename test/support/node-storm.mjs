// Node's fetch (undici, with no cap on connections per origin) sending COUNT concurrent GETs to
// URL/hang/i, each given LIMIT_MS: prints how each ended as JSON (status 0: no answer in time).
// Run by Node, not Bun: Bun's fetch sends a few hundred at a time, which hides a proxy's own queue.
const [url, count, limitMs] = process.argv.slice(2)
const results = await Promise.all(
  Array.from({ length: Number(count) }, async (_, i) => {
    const started = Date.now()
    try {
      const response = await fetch(`${url}/hang/${i}`, { signal: AbortSignal.timeout(Number(limitMs)) })
      await response.arrayBuffer()
      return { status: response.status, ms: Date.now() - started }
    } catch {
      return { status: 0, ms: Date.now() - started }
    }
  }),
)
console.log(JSON.stringify(results))
