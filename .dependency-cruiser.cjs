/**
 * The import rules `npm test` holds (npm run deps:check). Type-only imports count: a reader follows
 * them too (tsPreCompilationDeps). More layers follow as the request path is taken apart (issue #22).
 */
const POLICIES = '^src/(resilience/(attempt|retries|upstream-selection|store-work)|idempotency/idempotency)[.]ts$'

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
      name: 'forwarding-imports-no-policy',
      severity: 'error',
      comment: 'Forwarding sends and reads messages; which policies run around it is not its business.',
      from: { path: '^src/forwarding/' },
      to: { path: POLICIES },
    },
    {
      name: 'targets-and-balancers-import-no-policy',
      severity: 'error',
      comment: 'A balancer only picks a target; a target holds its own state.',
      from: { path: '^src/(balancers|upstream|breaker)/' },
      to: { path: POLICIES },
    },
    {
      name: 'domain-imports-no-health-checks-or-admin',
      severity: 'error',
      comment: 'How health checks run and what the admin shows sit above the request path, never under it.',
      from: { path: '^src/(balancers|upstream|breaker|forwarding|routing|stores|idempotency|resilience|websocket|errors|events)/' },
      to: { path: '^src/(health|admin)/' },
    },
  ],
  options: {
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^node_modules' },
  },
}
