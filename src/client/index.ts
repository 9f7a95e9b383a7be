/** The client side: a fetch that routes around a failing proxy. No server code, no dependencies. */
export { createFailsafeFetch, type FailsafeOptions } from './failsafe.ts'
