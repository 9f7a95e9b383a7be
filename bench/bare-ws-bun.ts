// The WebSocket baseline on Bun: a bare relay, no features. TARGET=ws://127.0.0.1:9001 PORT=8083
import type { ServerWebSocket } from 'bun'

const target = process.env.TARGET!
const server = Bun.serve<WebSocket>({
  hostname: '127.0.0.1',
  port: Number(process.env.PORT),
  async fetch(request, server) {
    const upstream = new WebSocket(target)
    upstream.binaryType = 'arraybuffer'
    await new Promise((resolve) => upstream.addEventListener('open', resolve, { once: true }))
    return server.upgrade(request, { data: upstream }) ? undefined : new Response('WebSocket only', { status: 400 })
  },
  websocket: {
    open(ws: ServerWebSocket<WebSocket>) {
      ws.data.addEventListener('message', (event) => ws.send(event.data))
      ws.data.addEventListener('close', () => ws.close())
    },
    message: (ws, message) => ws.data.send(message),
    close: (ws) => ws.data.close(),
    idleTimeout: 0,
  },
})
console.log(`bare-ws-bun listening on ${server.port}`)
