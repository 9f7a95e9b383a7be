/**
 * A chaos run: three origins in processes of their own flip between answering, failing (503),
 * resetting connections, hanging, freezing (SIGSTOP, then SIGCONT) and dying and coming back on the
 * same port, while paced traffic of GETs, keyless POSTs and keyed POSTs (from a client that retries
 * on 409 and on no answer, as a job runner does) goes through one proxy. Every request carries an id
 * the origins report back, so the run can tell exactly what reached them, and how often.
 */
import { ERROR_STATUS } from '../../src/errors/codes.ts'
import { adminStatus, oneUpstream } from '../conformance/context.ts'
import type { RunningProxy, Runtime } from '../conformance/harness.ts'
import { seeded } from '../support/random.ts'
import { ChaosOrigin } from './origins.ts'

export interface ChaosOptions {
  /** Requests the run starts (a keyed client's retries come on top). */
  requests: number
  ratePerSec: number
  seed?: number
  /**
   * Called with the proxy process before traffic starts, every `sampleEveryMs` while it flows, and
   * once after the run settled (`settled`: the run waits for what that call returns).
   */
  sample?: (proxy: RunningProxy, elapsedMs: number, sent: number, settled?: boolean) => void | Promise<void>
  sampleEveryMs?: number
}

/** The proxy's timeouts in a chaos run: a try gives up at 600 ms, the whole request at 2 s. */
export const TIMEOUT_MS = 2000
const TRY_TIMEOUT_MS = 600
/** How late past timeoutMs an answer may come (a loaded 2-core box, the client's own queueing). */
export const SLACK_MS = 1500

type Kind = 'GET' | 'POST' | 'keyed POST'

interface Answer {
  kind: Kind
  id: string
  ms: number
  /** The status, or 0 when no answer came within timeoutMs + slack. */
  status: number
  /** What is wrong with the answer, if anything: neither an origin's nor a contract error. */
  wrong?: string
}

export interface ChaosReport {
  runtime: string
  requests: number
  seconds: number
  answers: number
  /** First tries of the keyed client that it gave up on (it then retried with the same key). */
  gaveUp: number
  unanswered: number
  maxMs: number
  wrong: string[]
  statuses: Record<string, number>
  /** Keyless POST ids that reached the origins more than once. */
  postsTwice: string[]
  /** Idempotency-Keys that ran more than once in the origins. */
  keysTwice: string[]
  /** In-flight slots and origin calls still open once the run settled. */
  leftInFlight: number
  leftOpen: number
  servingAfter: boolean
  /** What the request after the run got: its status and error code. */
  afterAnswer: string
  faults: Record<string, number>
}

/** Runs chaos traffic through `runtime`'s proxy and reports what happened; it asserts nothing itself. */
export async function runChaos(runtime: Runtime, options: ChaosOptions): Promise<ChaosReport> {
  const seed = options.seed ?? 7
  const random = seeded(seed)
  const origins = [new ChaosOrigin(seed + 1), new ChaosOrigin(seed + 2), new ChaosOrigin(seed + 3)]
  await Promise.all(origins.map((o) => o.start()))
  const proxy = await runtime.start(
    oneUpstream(
      origins.map((o) => o.url),
      {
        timeoutMs: TIMEOUT_MS,
        tryTimeoutMs: TRY_TIMEOUT_MS,
        retry: { attempts: 2, backoffMs: 20 },
        breaker: { failureThreshold: 5, cooldownMs: 1000 },
        idempotency: { enabled: true },
      },
    ),
  )
  const faults: Record<string, number> = {}
  try {
    const started = Date.now()
    options.sample?.(proxy, 0, 0)
    const conductor = conduct(origins, random, faults)
    const answers: Promise<Answer[]>[] = []
    const sampler =
      options.sample === undefined
        ? undefined
        : setInterval(() => void options.sample!(proxy, Date.now() - started, answers.length), options.sampleEveryMs ?? 10000)
    for (let i = 0; i < options.requests; i++) {
      const due = started + (i * 1000) / options.ratePerSec
      if (due > Date.now()) await Bun.sleep(due - Date.now()) // pacing: the schedule is the load
      const id = `${runtime.name}-${seed}-${i}`
      const r = random()
      answers.push(r < 0.5 ? send(proxy, 'GET', id).then((a) => [a]) : r < 0.75 ? send(proxy, 'POST', id).then((a) => [a]) : keyedClient(proxy, id))
    }
    await conductor.stop()
    const all = (await Promise.all(answers)).flat()
    clearInterval(sampler)
    const seconds = (Date.now() - started) / 1000
    const settled = await settle(proxy, origins)
    await options.sample?.(proxy, Date.now() - started, answers.length, true)
    const after = await fetch(`${proxy.url}/after`, { headers: { 'x-chaos-id': 'after' }, signal: AbortSignal.timeout(TIMEOUT_MS + SLACK_MS) }).catch(
      () => undefined,
    )
    const afterText = (await after?.text()) ?? ''
    const servingAfter = after?.status === 200 && afterText === 'ok after'
    // What it answered instead, for the report: its status and the proxy's error code, or no answer.
    const afterAnswer = after === undefined ? 'no answer' : `${after.status} ${after.headers.get('x-proxy-error') ?? afterText.slice(0, 40)}`
    const seen = origins.flatMap((o) => o.seen)
    const statuses: Record<string, number> = {}
    for (const a of all) statuses[a.status] = (statuses[a.status] ?? 0) + 1
    return {
      runtime: runtime.name,
      requests: options.requests,
      seconds,
      answers: all.length,
      unanswered: all.filter((a) => a.status === 0).length,
      maxMs: Math.max(...all.filter((a) => a.status >= 0).map((a) => a.ms)),
      gaveUp: all.filter((a) => a.status === -1).length,
      wrong: all.filter((a) => a.wrong !== undefined).map((a) => `${a.kind} ${a.id}: ${a.wrong}`),
      statuses,
      postsTwice: twice(seen.filter((s) => s.method === 'POST' && s.key === undefined).map((s) => s.id!)),
      keysTwice: twice(seen.filter((s) => s.key !== undefined).map((s) => s.key!)),
      leftInFlight: settled.inFlight,
      leftOpen: settled.open,
      servingAfter,
      afterAnswer,
      faults,
    }
  } finally {
    await proxy.stop('SIGKILL')
    for (const origin of origins) origin.thaw()
    await Promise.all(origins.map((o) => o.kill()))
  }
}

/**
 * One request, judged: an origin's answer to this very request, or an error of the contract.
 * `patienceMs` shorter than the proxy's timeout plays a client that gives up (status -1): not a fault.
 */
async function send(proxy: RunningProxy, kind: Kind, id: string, patienceMs = TIMEOUT_MS + SLACK_MS): Promise<Answer> {
  const started = Date.now()
  const headers: Record<string, string> = { 'x-chaos-id': id }
  if (kind === 'keyed POST') headers['idempotency-key'] = id
  const init: RequestInit = { method: kind === 'GET' ? 'GET' : 'POST', headers, signal: AbortSignal.timeout(patienceMs) }
  if (kind !== 'GET') init.body = `job ${id}`
  try {
    const res = await fetch(`${proxy.url}/chaos/${id}`, init)
    const body = await res.text()
    return { kind, id, ms: Date.now() - started, status: res.status, wrong: judge(res, body, id) }
  } catch (error) {
    const ms = Date.now() - started
    if (patienceMs < TIMEOUT_MS) return { kind, id, ms, status: -1 }
    return { kind, id, ms, status: 0, wrong: `no answer in ${patienceMs} ms (${String(error)})` }
  }
}

/**
 * A job runner's client (the deploy story): its first try gives up after 300 ms, less than the
 * proxy's try timeout; then it sends the same key again, on 409 (still running) too, a few times.
 */
async function keyedClient(proxy: RunningProxy, id: string): Promise<Answer[]> {
  const answers = [await send(proxy, 'keyed POST', id, 300)]
  const again = (a: Answer) => a.status <= 0 || a.status === 409
  for (let attempt = 0; attempt < 5 && again(answers.at(-1)!); attempt++) {
    await Bun.sleep(200) // the client's own back-off (Retry-After says 1 s; job runners are less patient)
    answers.push(await send(proxy, 'keyed POST', id))
  }
  return answers
}

function judge(res: Response, body: string, id: string): string | undefined {
  const code = res.headers.get('x-proxy-error')
  if (code !== null) {
    if (!(code in ERROR_STATUS) || code === 'CLIENT_CLOSED_REQUEST') return `unknown proxy error ${code}`
    if (ERROR_STATUS[code as keyof typeof ERROR_STATUS] !== res.status) return `${code} with status ${res.status}`
    try {
      if ((JSON.parse(body) as { code?: string }).code !== code) return 'error body does not match x-proxy-error'
    } catch {
      return 'error body is not JSON'
    }
    return undefined
  }
  if (res.status === 200 && body === `ok ${id}`) return undefined
  if (res.status === 503 && body === 'origin overloaded') return undefined
  return `unexpected answer ${res.status} ${JSON.stringify(body.slice(0, 80))}`
}

/** The faults a conductor deals, in turn: every kind comes round in a short run. */
const FAULTS = ['freeze', 'reset', 'kill', 'hang', 'error', 'mixed', 'ok'] as const

/**
 * Every 700 ms a randomly chosen origin gets the next fault in turn: a mode, a freeze of 1.5 to 3 s
 * (SIGSTOP, then SIGCONT), or death and a restart on the same port 1 to 2 s later. stop() ends the
 * faults: every origin thawed, running and answering.
 */
function conduct(origins: ChaosOrigin[], random: () => number, faults: Record<string, number>) {
  const pending = new Set<Promise<unknown>>()
  const track = (p: Promise<unknown>) => {
    pending.add(p)
    void p.finally(() => pending.delete(p))
  }
  let turn = 0
  const timer = setInterval(() => {
    const origin = origins[Math.floor(random() * origins.length)]!
    if (!origin.running || origin.frozen) return
    const fault = FAULTS[turn++ % FAULTS.length]!
    faults[fault] = (faults[fault] ?? 0) + 1
    if (fault === 'freeze') {
      origin.freeze()
      track(Bun.sleep(1500 + random() * 1500).then(() => origin.thaw()))
    } else if (fault === 'kill') {
      const downMs = 1000 + random() * 1000
      track(
        origin
          .kill()
          .then(() => Bun.sleep(downMs))
          .then(() => origin.start()),
      )
    } else origin.mode(fault)
  }, 700)
  return {
    async stop() {
      clearInterval(timer)
      while (pending.size > 0) await Promise.all(pending)
      for (const origin of origins) {
        origin.thaw()
        if (!origin.running) await origin.start()
        origin.mode('ok')
      }
    },
  }
}

/**
 * Waits until the proxy holds no in-flight slot, no origin owes an answer (a thawed origin works
 * through its queue first) and no breaker is still cooling down from the last faults: polled, as
 * these states have no event; bounded at 10 s.
 */
async function settle(proxy: RunningProxy, origins: ChaosOrigin[]): Promise<{ inFlight: number; open: number }> {
  const end = Date.now() + 10000
  for (;;) {
    const { targets } = (await adminStatus(proxy.url)).api!
    const inFlight = targets.reduce((n, t) => n + t.inFlight, 0)
    const open = (await Promise.all(origins.map((o) => o.open()))).reduce((n, o) => n + o, 0)
    const cooling = targets.some((t) => t.retryAfterMs > 0)
    if ((inFlight === 0 && open === 0 && !cooling) || Date.now() > end) return { inFlight, open }
    await Bun.sleep(100)
  }
}

/** The values that occur more than once. */
function twice(values: string[]): string[] {
  const counts = new Map<string, number>()
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1)
  return [...counts].filter(([, n]) => n > 1).map(([v, n]) => `${v} ×${n}`)
}

export function describe(report: ChaosReport): string {
  const faults = Object.entries(report.faults)
    .map(([f, n]) => `${f} ${n}`)
    .join(', ')
  return [
    `chaos[${report.runtime}]: ${report.requests} requests (${report.answers} with the keyed client's retries; it gave up on ${report.gaveUp}) in ${report.seconds.toFixed(1)} s; faults: ${faults}`,
    `  unanswered ${report.unanswered}, slowest ${report.maxMs} ms (timeoutMs ${TIMEOUT_MS}), wrong answers ${report.wrong.length}, statuses ${JSON.stringify(report.statuses)}`,
    `  keyless POSTs reaching origins twice: ${report.postsTwice.length}, keys run twice: ${report.keysTwice.length}; left open: ${report.leftInFlight} in-flight slots, ${report.leftOpen} origin calls; serving after: ${report.servingAfter} (${report.afterAnswer})`,
  ].join('\n')
}
