/**
 * The long soak: `npm run soak` (SOAK_SECONDS per runtime, default 180; SOAK_RATE requests a second,
 * default 300; ONLY=bun or ONLY=deno). The chaos run of the test suite, longer and faster, sampling the
 * proxy's resident memory and open file descriptors (less its clients' keep-alive connections, which the
 * clients hold) every 10 s. It fails (exit 1) on any unanswered or
 * wrong answer, a POST or key run twice, RSS growth of 50 MiB or more after the 30 s warm-up, or more
 * than 20 descriptors left open once the run settled.
 */
import { bun, deno } from '../conformance/harness.ts'
import { openFds } from '../support/fds.ts'
import { memoryOf } from '../support/memory.ts'
import { describe, runChaos } from './chaos.ts'

const seconds = Number(process.env.SOAK_SECONDS ?? 180)
const rate = Number(process.env.SOAK_RATE ?? 300)
const only = process.env.ONLY?.split(',')
const WARM_UP_MS = 30000
const MIB = 1024 * 1024

let failed = false

for (const runtime of [bun, deno].filter((r) => only === undefined || only.includes(r.name))) {
  const samples: { s: number; sent: number; rss: number; fds: number }[] = []
  let startFds: number | undefined
  const report = await runChaos(runtime, {
    requests: seconds * rate,
    ratePerSec: rate,
    seed: 11,
    sampleEveryMs: 10000,
    async sample(proxy, elapsedMs, sent, settled) {
      // Once settled, idle upstream connections close on their keep-alive timeout (4 s on Deno's client): up to 15 s.
      for (const end = Date.now() + 15000; settled && openFds(proxy.pid, proxy.port) > startFds! + 20 && Date.now() < end; ) await Bun.sleep(500)
      const sample = { s: Math.round(elapsedMs / 1000), sent, rss: memoryOf(proxy.pid).rss, fds: openFds(proxy.pid, proxy.port) }
      startFds ??= sample.fds
      samples.push(sample)
      console.log(
        `  ${runtime.name} ${String(sample.s).padStart(4)} s  ${String(sent).padStart(7)} requests  rss ${(sample.rss / MIB).toFixed(1)} MiB  fds ${sample.fds}`,
      )
    },
  })
  console.log(describe(report))
  const warm = samples.find((s) => s.s * 1000 >= WARM_UP_MS) ?? samples[0]!
  const last = samples.at(-1)!
  const growth = (last.rss - warm.rss) / MIB
  const per100k = last.sent > warm.sent ? (growth * 100000) / (last.sent - warm.sent) : 0
  console.log(
    `  rss after warm-up ${(warm.rss / MIB).toFixed(1)} MiB, at the end ${(last.rss / MIB).toFixed(1)} MiB: growth ${growth.toFixed(1)} MiB, ${per100k.toFixed(1)} MiB per 100k requests; fds ${startFds} at the first sample, ${last.fds} at the end`,
  )
  const problems = [
    report.unanswered > 0 && `${report.unanswered} unanswered`,
    report.wrong.length > 0 && `${report.wrong.length} wrong answers: ${report.wrong.slice(0, 5).join('; ')}`,
    report.postsTwice.length > 0 && `keyless POSTs twice: ${report.postsTwice.slice(0, 5).join(', ')}`,
    report.keysTwice.length > 0 && `keys twice: ${report.keysTwice.slice(0, 5).join(', ')}`,
    (report.leftInFlight > 0 || report.leftOpen > 0) && `left open: ${report.leftInFlight} slots, ${report.leftOpen} origin calls`,
    !report.servingAfter && 'not serving afterwards',
    growth >= 50 && `rss grew ${growth.toFixed(1)} MiB after warm-up`,
    last.fds > startFds! + 20 && `fds ${startFds} → ${last.fds}`,
  ].filter(Boolean)
  if (problems.length > 0) {
    failed = true
    console.log(`SOAK FAILED on ${runtime.name}: ${problems.join('; ')}`)
  } else console.log(`soak passed on ${runtime.name}`)
}
process.exit(failed ? 1 : 0)
