/** The WebSocket benchmark's origin: echoes every message, on 127.0.0.1:$PORT. */
const server = Bun.serve({
  hostname: '127.0.0.1',
  port: Number(process.env.PORT),
  fetch: (request, server) => (server.upgrade(request, { data: undefined }) ? undefined : new Response('WebSocket only', { status: 400 })),
  websocket: { message: (ws, message) => void ws.send(message), idleTimeout: 0 },
})
console.log(`ws-echo listening on ${server.port}`)
