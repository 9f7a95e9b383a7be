/**
 * `npm test`'s first step: every program from Debian the suite needs (test/support/tools.ts) is here
 * before the first test runs. Where it can (root, with apt-get: here and in CI) it installs what is
 * missing in one step and says what and why. Where it cannot, it says which tests will be skipped and
 * how to get them, and goes on; under CI=true a tool still missing fails the run at once.
 */
import { spawnSync } from 'node:child_process'
import { missingMessage, missingTools, TOOLS, type ToolName } from '../test/support/tools.ts'

const all = Object.keys(TOOLS) as ToolName[]
const missing = missingTools(all)
if (missing.length === 0) process.exit(0)

const canInstall = process.getuid?.() === 0 && spawnSync('sh', ['-c', 'command -v apt-get']).status === 0
if (canInstall) {
  const packages = [...new Set(missing.map((name) => TOOLS[name].pkg))]
  console.log(`test tools: installing ${packages.join(', ')} with apt-get, for:`)
  for (const name of missing) console.log(`  ${name}: ${TOOLS[name].usedBy}`)
  const install = spawnSync(
    'sh',
    ['-c', `apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ${packages.join(' ')}`],
    { stdio: 'inherit' },
  )
  const still = missing.filter((name) => spawnSync('sh', ['-c', `command -v ${TOOLS[name].command}`]).status !== 0)
  if (install.status === 0 && still.length === 0) process.exit(0)
  console.error(`test tools: apt-get could not install them (exit ${install.status}).`)
}
const message = missingMessage(missing)
if (process.env.CI === 'true') {
  console.error(`test tools: ${message}\nCI=true: every tool must be present, so the run stops here.`)
  process.exit(1)
}
console.warn(`test tools: ${message}\nThe tests that need them are skipped, each naming what it lacks.`)
