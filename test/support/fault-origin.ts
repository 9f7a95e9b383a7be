import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'

/** How a fault origin treats one request. */
export type Fault = 'ok' | 'error' | 'reset' | 'hang'

export const FAULTS: readonly Fault[] = ['ok', 'error', 'reset', 'hang']

/** What a fault origin saw of one request, once its body was read. */
export interface FaultSeen {
  method: string
  path: string
  /** The request's `x-chaos-id`, when it carried one. */
  id: string | undefined
  key: string | undefined
  fault: Fault
}

export interface FaultOrigin {
  url: string
  port: number
  seen: FaultSeen[]
  /** Requests whose answer is still owed (hanging or being served). */
  open(): number
  stop(): Promise<void>
}

/**
 * A real HTTP/1.1 origin that misbehaves on request: answers (`ok`, 200 with the request's id),
 * fails (`error`, 503), resets the connection once the request is in (`reset`: the request reached
 * it, then the socket dies, as a crashing process does), or never answers (`hang`) until the client
 * gives up. Built on node:http rather than Bun.serve because only a raw socket can be destroyed
 * mid-exchange. Keep-alive stays on, so a proxy's pooled connections meet every fault.
 */
export function startFaultOrigin(fault: (request: IncomingMessage) => Fault, port = 0, onSeen?: (seen: FaultSeen) => void): Promise<FaultOrigin> {
  const seen: FaultSeen[] = []
  const sockets = new Set<Socket>()
  let open = 0
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    open++
    response.on('close', () => open--)
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', () => {
      const kind = fault(request)
      const entry: FaultSeen = {
        method: request.method ?? '',
        path: request.url ?? '',
        id: header(request, 'x-chaos-id'),
        key: header(request, 'idempotency-key'),
        fault: kind,
      }
      seen.push(entry)
      onSeen?.(entry)
      if (kind === 'reset') request.socket.destroy()
      else if (kind === 'error') response.writeHead(503, { 'content-type': 'text/plain' }).end('origin overloaded')
      else if (kind === 'ok') response.writeHead(200, { 'content-type': 'text/plain' }).end(`ok ${entry.id ?? entry.path}`)
      // 'hang': no answer; the socket closes when the client gives up.
    })
  })
  server.keepAliveTimeout = 60000
  server.on('connection', (socket: Socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', () => {
      const bound = (server.address() as AddressInfo).port
      resolve({
        url: `http://127.0.0.1:${bound}`,
        port: bound,
        seen,
        open: () => open,
        stop: () =>
          new Promise<void>((done) => {
            for (const socket of sockets) socket.destroy()
            server.close(() => done())
          }),
      })
    })
  })
}

function header(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name]
  return Array.isArray(value) ? value[0] : value
}
