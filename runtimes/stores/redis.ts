import { type BreakerRecord, type StateStore, type DoneRecord, type KeyRecord, type KeyStore, keyRecordFromText, keyRecordText } from '../../src/index.ts'

/** The one thing the store needs of a Redis client: send a command. Bun's RedisClient has it. */
export interface RedisCommands {
  send(command: string, args: string[]): Promise<unknown>
}

/** `supersedes` (src/stores/rules.ts) inside Redis: a record is kept only when newer than the one stored, atomically. */
const PUBLISH = `
local current = redis.call('HGET', KEYS[1], ARGV[1])
if current and cjson.decode(current).changedAt >= tonumber(ARGV[3]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1`

/** Sets the claim only if the key is free (SET NX), else answers what it holds: one round trip, atomic. */
const CLAIM = `
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return false end
return redis.call('GET', KEYS[1])`

/** Idempotency-Key records in Redis: a string per key, expiring by itself (PX). */
class RedisKeyStore implements KeyStore {
  constructor(
    private readonly redis: RedisCommands,
    private readonly prefix: string,
  ) {}

  async claim(upstream: string, key: string, fingerprint: string, ttlMs: number): Promise<KeyRecord | undefined> {
    const claim: KeyRecord = { state: 'in-flight', fingerprint }
    const held = await this.redis.send('EVAL', [CLAIM, '1', this.key(upstream, key), JSON.stringify(claim), String(ttlMs)])
    return typeof held === 'string' ? keyRecordFromText(held) : undefined
  }

  async complete(upstream: string, key: string, record: DoneRecord, ttlMs: number): Promise<void> {
    await this.redis.send('SET', [this.key(upstream, key), keyRecordText(record), 'PX', String(ttlMs)])
  }

  async release(upstream: string, key: string): Promise<void> {
    await this.redis.send('DEL', [this.key(upstream, key)])
  }

  private key(upstream: string, key: string): string {
    return `${this.prefix}${upstream}:${key}`
  }
}

/** Breaker state in Redis, for fleets of Bun or Deno instances: one hash per upstream, a field per target. */
export class RedisStore implements StateStore {
  readonly kind = 'redis'
  readonly keys: KeyStore
  constructor(
    private readonly redis: RedisCommands,
    private readonly prefix = 'edge-proxy:breaker:',
    keyPrefix = 'edge-proxy:idempotency:',
  ) {
    this.keys = new RedisKeyStore(redis, keyPrefix)
  }

  async publish(upstream: string, target: string, record: BreakerRecord): Promise<void> {
    await this.redis.send('EVAL', [PUBLISH, '1', this.prefix + upstream, target, JSON.stringify(record), String(record.changedAt)])
  }

  async read(upstream: string): Promise<Record<string, BreakerRecord>> {
    const reply = await this.redis.send('HGETALL', [this.prefix + upstream])
    const out: Record<string, BreakerRecord> = {}
    // RESP3 answers a map (an object here), RESP2 a flat list of field, value.
    const entries: [string, string][] = Array.isArray(reply)
      ? Array.from({ length: reply.length / 2 }, (_, i) => [String(reply[2 * i]), String(reply[2 * i + 1])])
      : Object.entries((reply ?? {}) as Record<string, string>)
    for (const [target, json] of entries) out[target] = JSON.parse(json) as BreakerRecord
    return out
  }
}
