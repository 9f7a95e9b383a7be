/**
 * The import rules `npm test` holds (npm run deps:check): the layers of docs/adr/0022-layers.md.
 * Type-only imports count: a reader follows them too (tsPreCompilationDeps).
 *
 *   app        src/*.ts (app, lifecycle, front door, state), admin/, health/checks.ts, cli/
 *   policies   resilience/ (request policies and their helpers), tries/, idempotency/, websocket/client-limit.ts
 *   forwarding forwarding/, websocket/ (the send and the tunnel), routing/
 *   domain     upstream/ (Target, Upstream, bulkhead, retry budget), balancers/, breaker/, stores/, events/,
 *              config/, errors/, addresses/ (client addresses, trusted proxies)
 *   data       request/ (Exchange, Try, the request body's faults, abort reasons)
 *   time       time/ (timers, rolling counts, backoff, stream timeouts)
 */
const POLICIES = '^src/(resilience/|tries/|background/jobs[.]ts|idempotency/idempotency[.]ts|websocket/client-limit[.]ts|health/shared[.]ts)'
const APP = '^src/(app|front-door|lifecycle|state|index)[.]ts$'

/** A forbidden import: `from` files may not import `to` files; `comment` says why, as the check prints it. */
const forbid = (name, comment, from, to) => ({ name, severity: 'error', comment, from, to })

module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', comment: 'No import circles, type-only imports included.', from: {}, to: { circular: true } },
    forbid('core-is-runtime-agnostic', 'src/ is the runtime-agnostic core: it imports nothing of runtimes/, tests or benchmarks.', { path: '^src/' }, { path: '^(runtimes|test|bench|scripts)/' }),
    forbid('runtimes-use-the-kit', 'A runtime adapter imports the package (src/index.ts) and the adapter kit (src/runtime.ts), never deeper paths.', { path: '^runtimes/' }, { path: '^src/', pathNot: '^src/(index|runtime)[.]ts$' }),
    forbid('time-helpers-import-nothing', 'Timers, rolling counts, backoff and stream timeouts are the bottom floor: they know no proxy.', { path: '^src/time/' }, { path: '^src/', pathNot: '^src/time/' }),
    forbid('request-data-imports-nothing-above', 'The request data types (Exchange, Try, fault records) sit under everything that handles a request.', { path: '^src/request/' }, { path: '^src/', pathNot: '^src/(request|time|errors)/', dependencyTypesNot: ['type-only'] }),
    forbid('request-data-names-only-the-values-it-points-at', 'Exception 1 of ADR 22: an exchange points at its Upstream, a try at its Target, both at the events and an open tunnel: type-only, nothing else above.', { path: '^src/request/' }, {
        path: '^src/',
        pathNot: '^src/((request|time|errors)/|upstream/(upstream|target)[.]ts$|events/events[.]ts$|websocket/types[.]ts$)',
        dependencyTypes: ['type-only'],
      }),
    forbid('forwarding-imports-no-policy', 'Forwarding sends and reads messages; which policies run around it is not its business.', { path: '^src/(forwarding|routing)/|^src/websocket/(tunnel|relay|standard|handshake|types)[.]ts$' }, { path: POLICIES }),
    forbid('domain-imports-no-request-or-policy', 'A balancer only picks a target; a target holds its own state; neither knows the request running on it.', { path: '^src/(balancers|upstream|breaker|stores|events|config|errors|addresses)/' }, { path: `${POLICIES}|^src/(request|forwarding|tries)/` }),
    forbid('domain-imports-no-health-checks-or-admin', 'How health checks run and what the admin shows sit above the request path, never under it.', { path: '^src/(balancers|upstream|breaker|forwarding|routing|stores|idempotency|resilience|tries|request|time|websocket|errors|events)/' }, { path: '^src/(health|admin)/' }),
    forbid('nothing-imports-the-app', 'The app, its lifecycle, its front door and its state assemble the layers below; nothing below imports them.', { path: '^src/', pathNot: `${APP}|^src/admin/|^src/cli/` }, { path: APP }),
  ],
  options: {
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^node_modules' },
  },
}
