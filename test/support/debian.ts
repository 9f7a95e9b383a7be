import { spawnSync } from 'node:child_process'

/** Installs Debian's `pkg` when `command` is missing (tests run as root here and in CI). */
export function ensureTool(command: string, pkg: string): void {
  if (spawnSync('sh', ['-c', `command -v ${command}`]).status === 0) return
  const install = spawnSync('sh', ['-c', `apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ${pkg}`], { stdio: 'inherit' })
  if (install.status !== 0) throw new Error(`could not install ${pkg} with apt-get`)
}
