/**
 * A chaos origin as its own process, so a test can freeze it (SIGSTOP/SIGCONT) and kill it:
 * `bun test/chaos/origin-process.ts PORT SEED`. It prints `{"listening":PORT}`, then one JSON line per
 * request it took in (`{"seen":…}`), and reads commands on stdin: `mode ok|error|reset|hang|mixed`,
 * and `report` (answers `{"open":N}`: answers still owed).
 */
import { startFaultOrigin, type Fault } from '../support/fault-origin.ts'
import { lineSplitter } from '../support/lines.ts'
import { seeded } from '../support/random.ts'

const [port, seed] = [Number(process.argv[2] ?? 0), Number(process.argv[3] ?? 1)]
const random = seeded(seed)
let mode: Fault | 'mixed' = 'ok'

/** Mixed: mostly answers, with every fault now and then. */
function mixed(): Fault {
  const r = random()
  return r < 0.6 ? 'ok' : r < 0.75 ? 'error' : r < 0.87 ? 'reset' : 'hang'
}

const origin = await startFaultOrigin(
  () => (mode === 'mixed' ? mixed() : mode),
  port,
  (seen) => console.log(JSON.stringify({ seen })),
)
console.log(JSON.stringify({ listening: origin.port }))

const feed = lineSplitter((line) => {
  const [command, arg] = line.trim().split(' ')
  if (command === 'mode') mode = arg as typeof mode
  else if (command === 'report') console.log(JSON.stringify({ open: origin.open() }))
})
process.stdin.on('data', (chunk: Buffer) => feed(chunk.toString()))
