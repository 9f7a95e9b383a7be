import type { Context } from 'hono'
import * as v from 'valibot'
import { type Priority, PrioritySchema } from './config/schema.ts'
import { ProxyError } from './errors/proxy-error.ts'
import type { ProxyEvents } from './events/events.ts'
import { readRequestBody } from './forwarding/request-body.ts'
import { requestIdOf } from './forwarding/request-id.ts'
import { clientBehind, clientKey, plainAddress } from './addresses/trust.ts'
import type { RequestBody } from './request/body.ts'
import type { Exchange } from './request/exchange.ts'
import { requestTargetOf } from './routing/request-target.ts'
import type { RouteMatch } from './routing/router.ts'
import { liftServerIdleTimeout } from './server-env.ts'
import type { ProxyState } from './state.ts'
import { isWebSocketUpgrade, offeredProtocols } from './websocket/handshake.ts'

/**
 * What the front door keeps of a request on its Hono context, for whoever reports it (the `request`
 * event): the client's address, the route it matched, the exchange it became. Each is set once the
 * front door knows it, so a request refused early reports what was known by then.
 */
export type ProxyEnv = {
  Variables: {
    requestId: string
    client?: string
    route?: RouteMatch
    exchange?: Exchange
  }
}

/** What the front door needs of the proxy around it. */
export interface FrontDoorDeps {
  /** The state requests start with now: a request keeps the one it started with to its end. */
  state(): ProxyState
  events: ProxyEvents
  /** The connection's peer, as the runtime tells it. */
  clientAddress(c: Context): string | undefined
  /** The scheme of the listener the request came in on. */
  listenerScheme(request: Request): string
  /** Whether the runtime can open WebSocket tunnels. */
  webSockets: boolean
  /** Keeps work the response does not wait for alive, where the runtime would cancel it (Workers). */
  keepAlive?: (c: Context, work: Promise<unknown>) => void
}

/** CONNECT asks for a tunnel, never forwarded; TRACE echoes the request's headers back (NGINX refuses it too). */
const REFUSED_METHODS: ReadonlySet<string> = new Set(['CONNECT', 'TRACE'])
const ALLOWED_METHODS = 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS'

const ignore = () => {}

/**
 * The request's front door (docs/specification.md §7): who the client is, whether the request can be forwarded at all (its
 * method, its request target, a route, a WebSocket the route and runtime accept), its deadline, its
 * body (read ahead when a policy may send it again), then the exchange handed to the state's
 * policies. Refusals throw the proxy's error, for the panic boundary to answer.
 */
export function frontDoor(deps: FrontDoorDeps): (c: Context<ProxyEnv>) => Promise<Response> {
  const { events } = deps
  return (c) => {
    const { config, route, upstreams, replaysBody, handlers, trusted, readAhead } = deps.state()
    const request = c.req.raw
    liftServerIdleTimeout(c)
    const requestId = requestIdOf(request.headers)
    c.set('requestId', requestId)
    const address = plainAddress(deps.clientAddress(c) ?? 'unknown')
    c.set('client', address)
    if (REFUSED_METHODS.has(request.method)) {
      throw new ProxyError('METHOD_NOT_ALLOWED', `${request.method} is not forwarded`, { headers: { allow: ALLOWED_METHODS } })
    }
    const requestTarget = requestTargetOf(request, config.encodedSlashes)
    if (requestTarget === undefined) throw new ProxyError('BAD_REQUEST', 'the request target or Host cannot be parsed safely')
    const host = request.headers.get('host')
    const match = route(request.method, host, requestTarget)
    if (match === undefined) throw new ProxyError('NO_ROUTE', `no route for ${request.method} ${requestTarget.pathname}`)
    const webSocket = isWebSocketUpgrade(request)
    if (webSocket && !match.websocket) throw new ProxyError('WEBSOCKET_NOT_ALLOWED', 'this route does not accept WebSocket upgrades')
    if (webSocket && !deps.webSockets) throw new ProxyError('WEBSOCKET_UNSUPPORTED', 'WebSockets are not supported where this proxy is served')
    if (webSocket && offeredProtocols(request.headers) === undefined) {
      throw new ProxyError('BAD_REQUEST', 'Sec-WebSocket-Protocol must list distinct subprotocol tokens')
    }
    c.set('route', match)
    const upstream = upstreams.get(match.upstream)!
    const deadline = Date.now() + upstream.config.timeoutMs
    const isTrusted = trusted(address)
    const priorHops = isTrusted ? request.headers.get('x-forwarded-for') : null
    const forwardedFor = priorHops ? `${priorHops}, ${address}` : address
    const proto = deps.listenerScheme(request)
    const remote = isTrusted ? clientBehind(address, request.headers.get('x-forwarded-for'), trusted) : address
    const client = { address, remote, forwardedFor, requestId, proto, host, trusted: isTrusted }
    const bufferBytes = replaysBody(request, upstream) ? upstream.config.retry.maxBodyBytes : 0
    // The read-ahead budget is counted by client key only for a body it may hold.
    const key = bufferBytes === 0 || request.body === null ? '' : clientKey(remote)
    const body = readRequestBody(request, config.limits.maxBodyBytes, bufferBytes, deadline, readAhead, key)
    const { keepAlive } = deps
    const serve = (body: RequestBody) => {
      const exchange: Exchange = {
        request,
        client,
        upstream,
        path: match.path,
        route: match.route,
        deadline,
        body,
        clientGone: request.signal,
        tried: [],
        reached: [],
        keepAlive: keepAlive === undefined ? ignore : (work) => keepAlive(c, work),
        events,
        webSocket,
        priority: priorityOf(match.priority, upstream.config.concurrency.priorityHeader, request.headers, isTrusted),
        record: {},
      }
      c.set('exchange', exchange)
      const handle = handlers.get(upstream)!
      if (body.held === 0) return handle(exchange)
      // What was read ahead is needed no more once the request is answered (or failed): its tries are over.
      const given = () => readAhead.give(key, body.held)
      try {
        return handle(exchange).finally(given)
      } catch (error) {
        given()
        throw error
      }
    }
    return body instanceof Promise ? body.then(serve) : serve(body)
  }
}

/** A message's Content-Length, or null when it has none. */
function declaredLength(headers: Headers): number | null {
  const length = headers.get('content-length')
  return length === null ? null : Number(length)
}

/**
 * Wraps the front door to report each request as a `request` event (the access log, metrics), once
 * its response body has ended and its bytes are counted, or with the error it was refused with.
 * What it reports comes from what the front door kept on the context. No closure is made per
 * request: this runs for every request while anyone listens.
 */
export function reported(events: ProxyEvents, serve: (c: Context<ProxyEnv>) => Promise<Response>): (c: Context<ProxyEnv>) => Promise<Response> {
  return (c) => {
    const started = Date.now()
    let forwarded: Promise<Response>
    try {
      forwarded = serve(c)
    } catch (error) {
      return Promise.reject(reportFailure(events, c, started, error))
    }
    return forwarded.then(
      (response) => {
        const answer = c.get('exchange')?.record.answer
        if (answer?.bodyEnded === undefined) report(events, c, started, response.status, declaredLength(response.headers), undefined)
        else void answer.bodyEnded.then(() => report(events, c, started, response.status, answer.bytesOut, undefined))
        return response
      },
      (error: unknown) => {
        throw reportFailure(events, c, started, error)
      },
    )
  }
}

/** Reports a request refused or failed with `error`; returns the error, to be thrown on. */
function reportFailure(events: ProxyEvents, c: Context<ProxyEnv>, started: number, error: unknown): unknown {
  if (error instanceof ProxyError) report(events, c, started, error.status, null, error.code)
  else report(events, c, started, 500, null, 'INTERNAL_ERROR')
  return error
}

/** The `request` event: one object literal, optional fields left undefined (JSON leaves them out). */
function report(events: ProxyEvents, c: Context<ProxyEnv>, started: number, status: number, bytesOut: number | null, code: string | undefined): void {
  const exchange = c.get('exchange')
  const route = c.get('route')
  const last = exchange?.tried[exchange.tried.length - 1]
  events.emit('request', {
    requestId: c.get('requestId'),
    method: c.req.method,
    path: c.req.path,
    client: c.get('client') ?? 'unknown',
    upstream: route?.upstream,
    route: route?.route,
    status,
    code,
    durationMs: Date.now() - started,
    tries: exchange?.tried.length ?? 0,
    target: last?.url,
    breaker: last?.breaker.state,
    key: exchange?.record.key,
    hedged: exchange?.record.hedged,
    priority: exchange?.priority === 'default' ? undefined : exchange?.priority,
    readAhead: exchange?.body.overBudget ? 'refused' : undefined,
    bytesIn: exchange === undefined ? null : (exchange.body.bytes?.byteLength ?? declaredLength(exchange.request.headers)),
    bytesOut,
  })
}

/**
 * A request's priority: its route's, unless the upstream names a header for it and the request came
 * through a trusted proxy (docs/specification.md §11.3): a client cannot declare itself critical.
 */
function priorityOf(route: Priority, header: string | undefined, headers: Headers, trusted: boolean): Priority {
  if (header === undefined || !trusted) return route
  const said = headers.get(header)?.trim().toLowerCase()
  return v.is(PrioritySchema, said) ? said : route
}
