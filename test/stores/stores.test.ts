/**
 * The store contract (contract.ts) against every store: memory and Redis here, Deno KV in a Deno
 * process, the Durable Object and KV inside workerd through wrangler dev.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { RedisClient } from 'bun'
import { MemoryStore } from '../../src/stores/memory.ts'
import type { StateStore } from '../../src/stores/types.ts'
import { RedisStore } from '../../runtimes/stores/redis.ts'
import { denoBinary, freePort, wranglerDev } from '../conformance/harness.ts'
import { startRedis } from '../support/redis.ts'
import { within } from '../support/wait.ts'
import { skipReason, type ToolName, toolsRequired } from '../support/tools.ts'
import { testWithTools } from '../support/with-tools.ts'
import { STORE_CONTRACT } from './contract.ts'

/**
 * Runs every case of the contract against the store `makeStore` opens (once, before the cases); one
 * whose server is a program missing here is skipped, naming it (failed under CI=true).
 */
function describeStoreContract(name: string, makeStore: () => Promise<{ store: StateStore; close(): Promise<void> }>, tools: ToolName[] = []): void {
  const missing = skipReason(tools)
  if (missing !== undefined && !toolsRequired()) {
    test.skip(`${name}: every case of the contract (skipped: ${missing})`, () => {})
    return
  }
  describe(name, () => {
    let opened!: { store: StateStore; close(): Promise<void> }
    beforeAll(async () => {
      if (missing !== undefined) throw new Error(missing)
      opened = await makeStore()
    })
    afterAll(() => opened?.close())
    for (const [i, contractCase] of STORE_CONTRACT.entries()) {
      test(contractCase.name, async () => {
        if (contractCase.needsKeys && opened.store.keys === undefined) throw new Error(`${name} cannot claim keys`)
        await contractCase.run(opened.store, `${name}-${i}`)
      })
    }
  })
}

describeStoreContract('memory', async () => ({ store: new MemoryStore(), close: async () => {} }))

describeStoreContract('redis', async () => {
  const redis = await startRedis(freePort())
  const client = new RedisClient(redis.url)
  await client.connect()
  return {
    store: new RedisStore(client),
    async close() {
      client.close()
      await redis.stop()
    },
  }
}, ['redis-server'])

testWithTools(
  ['redis-server'],
  'redis: a store that goes away fails its calls promptly (no hang), and answers again once it is back',
  async () => {
    const port = freePort()
    let redis = await startRedis(port)
    const client = new RedisClient(redis.url, { enableOfflineQueue: false, connectionTimeout: 1000 })
    await client.connect()
    const store = new RedisStore(client)
    const record = { state: 'open' as const, openUntil: 5000, changedAt: 1000 }
    await store.publish('away', 'http://t', record)
    await redis.stop()
    const failed = await within(
      store.read('away').then(
        () => 'answered',
        () => 'failed',
      ),
      5000,
      'a call to a Redis that went away to settle',
    )
    expect(failed).toBe('failed')
    redis = await startRedis(port)
    // Bun's client reconnects by itself; the store answers again (polled: reconnection has no event to await).
    let back = false
    for (let i = 0; i < 50 && !back; i++)
      back = await store.publish('away', 'http://t', record).then(
        () => true,
        () => Bun.sleep(100).then(() => false),
      )
    expect(back).toBe(true)
    client.close()
    await redis.stop()
  },
  20000,
)

/** Results of a contract run elsewhere, one test asserting every case passed (and that some ran). */
function expectAllPassed(results: { name: string; error?: string }[], cases: number): void {
  expect(results.filter((r) => r.error !== undefined)).toEqual([])
  expect(results).toHaveLength(cases)
}

test('deno-kv (in a Deno process): every case of the contract holds', async () => {
  const file = join(mkdtempSync(join(tmpdir(), 'edge-proxy-kv-contract-')), 'kv.sqlite3')
  const proc = Bun.spawn([denoBinary(), 'run', '-A', 'test/stores/deno-kv-contract.ts', file], { stdout: 'pipe', stderr: 'inherit' })
  const out = await new Response(proc.stdout).text()
  expect(await proc.exited).toBe(0)
  expectAllPassed(JSON.parse(out), STORE_CONTRACT.length)
}, 30000)

describe('workerd (wrangler dev)', () => {
  let dev: Awaited<ReturnType<typeof wranglerDev>>
  beforeAll(async () => {
    dev = await wranglerDev(['test/stores/workers-contract.ts', '--persist-to', mkdtempSync(join(tmpdir(), 'edge-proxy-do-contract-'))], freePort())
  }, 40000)
  afterAll(() => dev.stop('SIGKILL'))
  test('durable-object: every case of the contract holds', async () => {
    expectAllPassed(await (await fetch(`${dev.url}/?store=durable-object`)).json(), STORE_CONTRACT.length)
  }, 30000)
  test('kv: every case of the contract that a store without key claims can hold', async () => {
    expectAllPassed(await (await fetch(`${dev.url}/?store=kv`)).json(), STORE_CONTRACT.filter((c) => !c.needsKeys).length)
  }, 30000)
})
