/**
 * `--watch` for Bun and Deno (node:fs on both): calls `onChange` once things settle after the file
 * changes. Editors write a file in several steps (truncate, write, rename), so changes within 100 ms
 * are one; the directory is watched, so a file replaced by a rename is still seen.
 */
import { watch } from 'node:fs'
import { basename, dirname } from 'node:path'

export function watchFile(path: string, onChange: () => void): void {
  let timer: ReturnType<typeof setTimeout> | undefined
  const name = basename(path)
  watch(dirname(path), (_, changed) => {
    if (changed !== null && changed !== name) return
    clearTimeout(timer)
    timer = setTimeout(onChange, 100)
  })
}
