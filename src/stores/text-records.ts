import type { KeyRecord } from './types.ts'

/**
 * An Idempotency-Key record as text, for stores that keep strings (Redis): JSON with the body as
 * base64. Stores that keep structured values (the memory store, Deno KV, Durable Objects) hold the
 * record as it is.
 */
export function keyRecordText(record: KeyRecord): string {
  if (record.state !== 'done' || record.response.body === null) return JSON.stringify(record)
  return JSON.stringify({ ...record, response: { ...record.response, body: base64Encode(record.response.body) } })
}

/** A record `keyRecordText` wrote, as it was. */
export function keyRecordFromText(text: string): KeyRecord {
  const record = JSON.parse(text) as KeyRecord | (KeyRecord & { response: { body: string | null } })
  if (record.state !== 'done' || typeof record.response.body !== 'string') return record as KeyRecord
  return { ...record, response: { ...record.response, body: base64Decode(record.response.body) } }
}

/** Uint8Array's own base64 (Bun, Deno, workerd): no string of the bytes made first, as btoa needs. */
type Base64 = { toBase64?(): string }
type FromBase64 = { fromBase64?(text: string): Uint8Array<ArrayBuffer> }

function base64Encode(bytes: Uint8Array): string {
  const own = (bytes as Base64).toBase64
  if (own !== undefined) return own.call(bytes)
  let binary = ''
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000))
  return btoa(binary)
}

function base64Decode(text: string): Uint8Array<ArrayBuffer> {
  const own = (Uint8Array as FromBase64).fromBase64
  if (own !== undefined) return own(text)
  const binary = atob(text)
  const bytes = new Uint8Array(binary.length)
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i)
  return bytes
}
