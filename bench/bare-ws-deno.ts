// The WebSocket baseline on Deno: a bare relay, no features. TARGET=ws://127.0.0.1:9001 PORT=8084
const target = Deno.env.get('TARGET')!
Deno.serve(
  { hostname: '127.0.0.1', port: Number(Deno.env.get('PORT')), onListen: ({ port }) => console.log(`bare-ws-deno listening on ${port}`) },
  async (request) => {
    const upstream = new WebSocket(target)
    upstream.binaryType = 'arraybuffer'
    await new Promise((resolve) => upstream.addEventListener('open', resolve, { once: true }))
    const { socket, response } = Deno.upgradeWebSocket(request, { idleTimeout: 0 })
    socket.binaryType = 'arraybuffer'
    socket.onmessage = (event) => upstream.send(event.data)
    upstream.onmessage = (event) => socket.send(event.data)
    socket.onclose = () => upstream.close()
    upstream.onclose = () => socket.close()
    return response
  },
)
