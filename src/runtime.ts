/**
 * The adapter kit: what a runtime adapter (runtimes/, or your own for another runtime) wires the core
 * with, beside the package's main exports. Adapters import from here, never from deeper paths, so
 * the core can move its files without breaking them. Exported as `edge-proxy/runtime`.
 */
export { type Host, runCommand, type ServedProxy } from './cli/command.ts'
export { describeError, log } from './log.ts'
export { within } from './time/timers.ts'
export { canOpen, cannotOpenIssue, openStore, type StoreConfig, type StoreOpeners } from './stores/open.ts'
export { storeUnreachable } from './stores/unreachable.ts'
export { heldFor, type HeldKey, stillHeld, supersedes } from './stores/rules.ts'
export { type CallFault, type FaultOf, inCauses } from './request/fault-of.ts'
export { connectWithHeaders, type HandshakeErrorOf, linkWebSocket } from './websocket/standard.ts'
export { type ClientLink, closeTunnels, ConnectFailed, HandshakeFailed, type SocketEnd, type WebSocketSupport } from './websocket/types.ts'
export { probe } from './health/checks.ts'
export type { SharedHealth } from './health/shared.ts'
export { type HealthCheckConfig, initialHealth, recordCheck, type TargetHealth } from './upstream/target-health.ts'
