import { describe, expect, test } from 'bun:test'
import { fakeWebSockets, UPGRADE_HEADERS } from '../support/fake-websockets.ts'
import { scripted } from '../support/scripted.ts'

type Status = { upstreams: { api: { targets: { url: string; inFlight: number }[] } } }

describe('WebSocket tunnels', () => {
  test('a tunnel holds its target while open, and gives it back when it closes (either side): in-flight returns to 0', async () => {
    const ws = fakeWebSockets()
    const { app } = scripted(() => new Response('plain'), { targets: [{ url: 'http://127.0.0.1:9001' }] }, { webSockets: ws.support })
    const inFlight = async () => ((await (await app.request('/_proxy/status')).json()) as Status).upstreams.api.targets[0]!.inFlight
    expect((await app.request('/ws', { headers: UPGRADE_HEADERS })).status).toBe(101)
    expect((await app.request('/ws', { headers: UPGRADE_HEADERS })).status).toBe(101)
    expect(await inFlight()).toBe(2)
    const tunnels = [...ws.support.open]
    expect(tunnels).toHaveLength(2)
    ws.sockets[0]!.close(1000, 'upstream done') // the upstream closes one
    ws.links[1]!.closed(1000, 'client done') // the client closes the other
    await Promise.all(tunnels.map((t) => t.closed)) // each slot is given back as its tunnel's `closed` settles
    expect(await inFlight()).toBe(0)
  })

  test('only a GET can be an upgrade: a POST carrying the handshake headers is forwarded as a plain request', async () => {
    const ws = fakeWebSockets()
    const { app, calls } = scripted(() => new Response('plain'), {}, { webSockets: ws.support })
    const res = await app.request('/ws', { method: 'POST', body: 'x', headers: UPGRADE_HEADERS })
    expect(await res.text()).toBe('plain')
    expect(calls).toHaveLength(1)
    expect(ws.sockets).toHaveLength(0)
  })
})
