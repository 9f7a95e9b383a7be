/** The request's Idempotency-Key header, whether or not the proxy honours keys for its upstream. */
export const idempotencyKeyOf = (request: Request): string | null => request.headers.get('idempotency-key')
