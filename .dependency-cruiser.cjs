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

module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', comment: 'No import circles, type-only imports included.', from: {}, to: { circular: true } },
    {
      name: 'core-is-runtime-agnostic',
      severity: 'error',
      comment: 'src/ is the runtime-agnostic core: it imports nothing of runtimes/, tests or benchmarks.',
      from: { path: '^src/' },
      to: { path: '^(runtimes|test|bench|scripts)/' },
    },
    {
      name: 'runtimes-use-the-kit',
      severity: 'error',
      comment: 'A runtime adapter imports the package (src/index.ts) and the adapter kit (src/runtime.ts), never deeper paths.',
      from: { path: '^runtimes/' },
      to: { path: '^src/', pathNot: '^src/(index|runtime)[.]ts$' },
    },
    {
      name: 'time-helpers-import-nothing',
      severity: 'error',
      comment: 'Timers, rolling counts, backoff and stream timeouts are the bottom floor: they know no proxy.',
      from: { path: '^src/time/' },
      to: { path: '^src/', pathNot: '^src/time/' },
    },
    {
      name: 'request-data-imports-nothing-above',
      severity: 'error',
      comment: 'The request data types (Exchange, Try, fault records) sit under everything that handles a request.',
      from: { path: '^src/request/' },
      to: { path: '^src/', pathNot: '^src/(request|time|errors)/', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'request-data-names-only-the-values-it-points-at',
      severity: 'error',
      comment:
        'Exception 1 of ADR 22: an exchange points at its Upstream, a try at its Target, both at the events and an open tunnel: type-only, nothing else above.',
      from: { path: '^src/request/' },
      to: {
        path: '^src/',
        pathNot: '^src/((request|time|errors)/|upstream/(upstream|target)[.]ts$|events/events[.]ts$|websocket/types[.]ts$)',
        dependencyTypes: ['type-only'],
      },
    },
    {
      name: 'forwarding-imports-no-policy',
      severity: 'error',
      comment: 'Forwarding sends and reads messages; which policies run around it is not its business.',
      from: { path: '^src/(forwarding|routing)/|^src/websocket/(tunnel|relay|standard|handshake|types)[.]ts$' },
      to: { path: POLICIES },
    },
    {
      name: 'domain-imports-no-request-or-policy',
      severity: 'error',
      comment: 'A balancer only picks a target; a target holds its own state; neither knows the request running on it.',
      from: { path: '^src/(balancers|upstream|breaker|stores|events|config|errors|addresses)/' },
      to: { path: `${POLICIES}|^src/(request|forwarding|tries)/` },
    },
    {
      name: 'domain-imports-no-health-checks-or-admin',
      severity: 'error',
      comment: 'How health checks run and what the admin shows sit above the request path, never under it.',
      from: { path: '^src/(balancers|upstream|breaker|forwarding|routing|stores|idempotency|resilience|tries|request|time|websocket|errors|events)/' },
      to: { path: '^src/(health|admin)/' },
    },
    {
      name: 'nothing-imports-the-app',
      severity: 'error',
      comment: 'The app, its lifecycle, its front door and its state assemble the layers below; nothing below imports them.',
      from: { path: '^src/', pathNot: `${APP}|^src/admin/|^src/cli/` },
      to: { path: APP },
    },
  ],
  options: {
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^node_modules' },
  },
}
