/** Feeds text as it arrives and calls `onLine` with each complete line (without its newline). */
export function lineSplitter(onLine: (line: string) => void): (text: string) => void {
  let pending = ''
  return (text) => {
    pending += text
    for (let nl = pending.indexOf('\n'); nl >= 0; nl = pending.indexOf('\n')) {
      const line = pending.slice(0, nl)
      pending = pending.slice(nl + 1)
      onLine(line)
    }
  }
}
