/**
 * An upstream fetch for Deno that keeps compressed bytes as they are. Deno's fetch always decodes
 * gzip/br and cannot be told not to (denoland/deno#12291), yet keeps Content-Encoding and
 * Content-Length, which would then lie about the bytes. `node:http` hands over the raw bytes.
 */
import http from 'node:http'
import https from 'node:https'
import { pipeline, Readable } from 'node:stream'
import { NULL_BODY_STATUSES, type UpstreamFetch } from '../src/index.ts'

const agents = { 'http:': new http.Agent({ keepAlive: true }), 'https:': new https.Agent({ keepAlive: true }) }

export const rawFetch: UpstreamFetch = (input, init) =>
  new Promise((resolve, reject) => {
    const url = new URL(input)
    const signal = init.signal ?? undefined
    if (signal?.aborted) return reject(signal.reason)
    const headers: Record<string, string> = {}
    const given = init.headers instanceof Headers ? init.headers : new Headers(init.headers) // the core passes Headers: no copy
    given.forEach((value, name) => (headers[name] = value))
    const protocol = url.protocol as 'http:' | 'https:'
    const request = (protocol === 'https:' ? https : http).request(
      url,
      { method: init.method ?? 'GET', headers, agent: agents[protocol] },
      (response) => {
        const responseHeaders = new Headers()
        const raw = response.rawHeaders
        for (let i = 0; i < raw.length; i += 2) responseHeaders.append(raw[i]!, raw[i + 1]!)
        const status = response.statusCode ?? 502
        const body = NULL_BODY_STATUSES.has(status) ? null : (Readable.toWeb(response) as ReadableStream<Uint8Array>)
        if (body === null) response.resume()
        resolve(new Response(body, { status, statusText: response.statusMessage ?? '', headers: responseHeaders }))
      },
    )
    const onAbort = () => request.destroy(signal!.reason instanceof Error ? signal!.reason : new Error('aborted'))
    signal?.addEventListener('abort', onAbort, { once: true })
    request.on('close', () => signal?.removeEventListener('abort', onAbort))
    // The body's own error (over the size limit, say) says more than the socket error it causes.
    let bodyError: unknown
    request.on('error', (error) => setImmediate(() => reject(signal?.aborted ? signal.reason : (bodyError ?? error))))
    const body = init.body as ReadableStream<Uint8Array> | Uint8Array | null | undefined
    if (body instanceof Uint8Array) request.end(body) // a buffered body, replayable
    // pipeline, not pipe: a body that fails (over the size limit, say) must fail the request too.
    else if (body) pipeline(Readable.fromWeb(body as import('node:stream/web').ReadableStream), request, (error) => (bodyError = error))
    else request.end()
  })
