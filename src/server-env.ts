import type { Context } from 'hono'

/**
 * What a runtime may hand a Hono app as its env when the app is served as it is (`export default
 * proxy` on Bun passes its Server). Duck-typed: the core names no runtime, it only uses what is there.
 */
interface ServerEnv {
  requestIP?(request: Request): { address: string } | null
  timeout?(request: Request, seconds: number): void
}

function serverOf(c: Context): ServerEnv | undefined {
  const env = c.env as ServerEnv | undefined
  return env !== null && typeof env === 'object' ? env : undefined
}

/** The client's address from the server the app runs in, when it can tell (Bun's `requestIP`). */
export function serverClientAddress(c: Context): string | undefined {
  const server = serverOf(c)
  return typeof server?.requestIP === 'function' ? (server.requestIP(c.req.raw)?.address ?? undefined) : undefined
}

/**
 * Lifts the server's own idle timeout for this request (Bun's default, 10 s, would cut a slow
 * upstream or a quiet stream): the proxy's timeouts rule. The proxy's entrypoints set their server
 * up themselves; this is for the app served as it is.
 */
export function liftServerIdleTimeout(c: Context): void {
  const server = serverOf(c)
  if (typeof server?.timeout === 'function') server.timeout(c.req.raw, 0)
}
