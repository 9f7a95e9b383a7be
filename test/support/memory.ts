import { readdirSync, readFileSync } from 'node:fs'

/** A process's resident memory now and its peak so far (VmRSS, VmHWM), in bytes. Linux only. */
export function memoryOf(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024
  return { rss: kb('VmRSS'), peak: kb('VmHWM') }
}

/** The resident memory of a process and all its descendants (wrangler and its workerd, say), in bytes. Linux only. */
export function treeMemoryOf(pid: number): number {
  const children = new Map<number, number[]>()
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      // The parent pid is the fourth field, after the command in parentheses (which may hold spaces).
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
      children.set(parent, [...(children.get(parent) ?? []), Number(entry)])
    } catch {} // gone meanwhile
  }
  let total = 0
  for (const queue = [pid]; queue.length > 0; ) {
    const next = queue.pop()!
    try {
      total += memoryOf(next).rss || 0
    } catch {}
    queue.push(...(children.get(next) ?? []))
  }
  return total
}
