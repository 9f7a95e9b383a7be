import { readdirSync, readFileSync, readlinkSync } from 'node:fs'

/**
 * A process's open file descriptors, less the connections accepted on `port` (its clients'
 * keep-alive connections, which the clients hold open, not the process). Linux only.
 */
export function openFds(pid: number, port: number): number {
  const clientSockets = new Set<string>()
  for (const table of ['tcp', 'tcp6']) {
    for (const line of readFileSync(`/proc/${pid}/net/${table}`, 'utf8').split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/)
      // local_address is HEXIP:HEXPORT; a listening socket has state 0A and is counted like any other fd.
      if (fields.length > 9 && parseInt(fields[1]!.split(':')[1]!, 16) === port && fields[3] !== '0A') clientSockets.add(fields[9]!)
    }
  }
  let count = 0
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const target = readlinkSync(`/proc/${pid}/fd/${fd}`)
      if (!clientSockets.has(/^socket:\[(\d+)\]$/.exec(target)?.[1] ?? '')) count++
    } catch {
      // closed while being listed
    }
  }
  return count
}
