/** The package: the proxy as a Hono app, its config, and the pieces a runtime wires together. */
export { createProxy, type ProxyApp, type ProxyEnv, type ProxyOptions } from './app.ts'
export { parseConfig } from './config/parse.ts'
export { ConfigError, type ConfigIssue, formatIssues } from './config/issues.ts'
export type { Config, ConfigInput, RouteConfig, TargetConfig, UpstreamConfig } from './config/schema.ts'
export { configJsonSchema } from './config/json-schema.ts'
export { ERROR_STATUS, type ErrorCode, PROXY_FAULTS } from './errors/codes.ts'
export { errorResponse, ProxyError } from './errors/proxy-error.ts'
export type { UpstreamFetch } from './forwarding/forward.ts'
