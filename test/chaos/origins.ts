import { join } from 'node:path'
import type { Subprocess } from 'bun'
import type { Fault, FaultSeen } from '../support/fault-origin.ts'
import { lineSplitter } from '../support/lines.ts'
import { deferred, within } from '../support/wait.ts'

export type Mode = Fault | 'mixed'

const script = join(import.meta.dir, 'origin-process.ts')

/**
 * A fault origin in a process of its own, which a chaos run can set to misbehave, freeze
 * (SIGSTOP, then SIGCONT) and kill and start again on the same port. What it saw survives its
 * restarts: every request it took in is kept here, whichever life of the process took it.
 */
export class ChaosOrigin {
  readonly seen: FaultSeen[] = []
  port = 0
  frozen = false
  private proc: Subprocess<'pipe', 'pipe', 'inherit'> | undefined
  private reports: ((open: number) => void)[] = []
  private watchers: { wanted: (seen: FaultSeen) => boolean; resolve: () => void }[] = []

  constructor(private readonly seed: number) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`
  }

  get running(): boolean {
    return this.proc !== undefined
  }

  /** Starts the process (on its old port when it had one) and resolves once it listens. */
  async start(): Promise<void> {
    const proc = Bun.spawn([process.execPath, script, String(this.port), String(this.seed)], { stdin: 'pipe', stdout: 'pipe', stderr: 'inherit' })
    this.proc = proc
    const listening = deferred<number>()
    void this.read(proc, listening.resolve)
    void proc.exited.then(() => listening.resolve(-1))
    const port = await within(listening.promise, 10000, 'a chaos origin to listen')
    if (port < 0) throw new Error(`chaos origin on port ${this.port} exited before listening`)
    this.port = port
  }

  mode(mode: Mode): void {
    if (this.proc === undefined || this.frozen) return
    void this.proc.stdin.write(`mode ${mode}\n`)
    void this.proc.stdin.flush()
  }

  freeze(): void {
    if (this.proc === undefined || this.frozen) return
    this.proc.kill('SIGSTOP')
    this.frozen = true
  }

  thaw(): void {
    if (this.proc === undefined || !this.frozen) return
    this.proc.kill('SIGCONT')
    this.frozen = false
  }

  /** Kills the process outright: its connections reset, its port refuses until start(). */
  async kill(): Promise<void> {
    const proc = this.proc
    if (proc === undefined) return
    this.proc = undefined
    this.frozen = false
    proc.kill('SIGKILL')
    await proc.exited
  }

  /** Answers the origin still owes (requests it is holding open). */
  async open(): Promise<number> {
    if (this.proc === undefined) return 0
    const answer = deferred<number>()
    this.reports.push(answer.resolve)
    void this.proc.stdin.write('report\n')
    void this.proc.stdin.flush()
    return within(answer.promise, 5000, 'a chaos origin to report')
  }

  /** Resolves once the origin has taken in a request that `wanted` accepts (already, or later). */
  sees(wanted: (seen: FaultSeen) => boolean): Promise<void> {
    if (this.seen.some(wanted)) return Promise.resolve()
    return new Promise((resolve) => this.watchers.push({ wanted, resolve }))
  }

  private saw(seen: FaultSeen): void {
    this.seen.push(seen)
    const met = this.watchers.filter((w) => w.wanted(seen))
    this.watchers = this.watchers.filter((w) => !met.includes(w))
    for (const w of met) w.resolve()
  }

  private async read(proc: Subprocess<'pipe', 'pipe', 'inherit'>, listening: (port: number) => void): Promise<void> {
    const decoder = new TextDecoder()
    const feed = lineSplitter((text) => {
      const line = JSON.parse(text) as { seen?: FaultSeen; listening?: number; open?: number }
      if (line.seen) this.saw(line.seen)
      else if (line.listening !== undefined) listening(line.listening)
      else if (line.open !== undefined) this.reports.shift()?.(line.open)
    })
    const reader = proc.stdout.getReader()
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) feed(decoder.decode(chunk.value, { stream: true }))
  }
}
