/**
 * Plants each bug of list.ts, one at a time, in a copy of the working tree, and runs the tests it
 * names: a bug is caught when they fail. `bun test/mutants/run.ts [id ...]` (`npm run mutants`);
 * `--markdown` prints the table docs/testing.md shows, `--verbose` the tests that failed. Exits 1 when a bug went unnoticed.
 */
import { spawnSync } from 'node:child_process'
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { MUTANTS, type Mutant } from './list.ts'

const root = join(import.meta.dir, '..', '..')
const args = process.argv.slice(2)
const markdown = args.includes('--markdown')
const verbose = args.includes('--verbose')
const chosen = args.filter((a) => !a.startsWith('--'))
const mutants = chosen.length === 0 ? MUTANTS : MUTANTS.filter((m) => chosen.includes(m.id))

/** The working tree as it is (tracked and new files), with node_modules linked, in a temp folder. */
function copyOfTree(): string {
  const copy = mkdtempSync(join(tmpdir(), 'edge-proxy-mutants-'))
  const files = spawnSync('git', ['ls-files', '-co', '--exclude-standard'], { cwd: root, encoding: 'utf8' })
    .stdout.split('\n')
    .filter((file) => file !== '' && file !== 'node_modules')
  for (const file of files) {
    mkdirSync(dirname(join(copy, file)), { recursive: true })
    try {
      cpSync(join(root, file), join(copy, file))
    } catch {} // a tracked file deleted in the working tree
  }
  symlinkSync(join(root, 'node_modules'), join(copy, 'node_modules'))
  return copy
}

/** Whether the tests pass in `dir`. */
function testsPass(dir: string, mutant: Pick<Mutant, 'tests' | 'pattern'>): boolean {
  const cmd = ['test', ...mutant.tests, ...(mutant.pattern ? ['-t', mutant.pattern] : [])]
  const run = spawnSync(process.execPath, cmd, { cwd: dir, encoding: 'utf8', timeout: 300_000, env: { ...process.env, FORCE_COLOR: '0' } })
  if (verbose) for (const line of `${run.stdout}${run.stderr}`.split('\n')) if (/^\(fail\)|^ \d+ (pass|fail)$/.test(line)) console.error(`    ${line}`)
  return run.status === 0
}

const copy = copyOfTree()
const results: { mutant: Mutant; result: 'caught' | 'missed' | 'baseline fails' | 'not found' }[] = []
const baseline = new Map<string, boolean>()
try {
  for (const mutant of mutants) {
    const key = `${mutant.tests.join(' ')} ${mutant.pattern ?? ''}`
    if (!baseline.has(key)) baseline.set(key, testsPass(copy, mutant))
    const path = join(copy, mutant.file)
    const source = readFileSync(path, 'utf8')
    let result: (typeof results)[number]['result']
    if (source.split(mutant.from).length !== 2) result = 'not found'
    else if (!baseline.get(key)) result = 'baseline fails'
    else {
      writeFileSync(path, source.replace(mutant.from, mutant.to))
      try {
        result = testsPass(copy, mutant) ? 'missed' : 'caught'
      } finally {
        writeFileSync(path, source)
      }
    }
    results.push({ mutant, result })
    console.error(`${result.padEnd(14)} ${mutant.id}`)
  }
} finally {
  rmSync(copy, { recursive: true, force: true })
}

const caught = results.filter((r) => r.result === 'caught').length
const score = (origin: Mutant['origin']) => {
  const mine = results.filter((r) => r.mutant.origin === origin)
  return `${mine.filter((r) => r.result === 'caught').length} of ${mine.length}`
}
if (markdown) {
  console.log('| bug | where | what it breaks | caught by | result |\n| --- | --- | --- | --- | --- |')
  for (const { mutant, result } of results) {
    const by = mutant.tests.map((t) => `\`${t.replace(/^test\//, '')}\``).join(', ') + (mutant.pattern ? ` (${mutant.pattern})` : '')
    console.log(`| ${mutant.id} | \`${mutant.file.replace(/^src\//, '')}\` | ${mutant.breaks} | ${by} | ${result} |`)
  }
  console.log()
}
console.log(`caught ${caught} of ${results.length}: reported ${score('reported')}, planted ${score('planted')}`)
process.exit(caught === results.length ? 0 : 1)
