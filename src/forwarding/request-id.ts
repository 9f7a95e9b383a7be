/**
 * A client's request id is kept only when sane: 1 to 128 characters that are safe in a log line, a
 * header and an HTML page alike: letters, digits and `-._~:;=+/@` (UUIDs, ULIDs, W3C and AWS trace
 * ids). No quotes, angle brackets, backslashes or spaces: an id is echoed back and logged.
 */
const SANE_ID = /^[A-Za-z0-9\-._~:;=+/@]{1,128}$/

export function requestIdOf(headers: Headers): string {
  const given = headers.get('x-request-id')
  return given !== null && SANE_ID.test(given) ? given : crypto.randomUUID()
}
