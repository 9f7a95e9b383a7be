/** A client's request id is kept only when sane: 1 to 128 visible ASCII characters. */
const SANE_ID = /^[\x21-\x7e]{1,128}$/

export function requestIdOf(headers: Headers): string {
  const given = headers.get('x-request-id')
  return given !== null && SANE_ID.test(given) ? given : crypto.randomUUID()
}
