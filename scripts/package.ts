/**
 * `npm run build`: the publishable package in dist/ (ADR 18): the tsdown build, the schema, the README, the licence,
 * and a package.json written from this one's name, version and dependencies, with an export per entry.
 * Only users' needs go in; this repo's dev tooling (runtimes, Node 22 for wrangler) stays here.
 * Publish with `npm publish dist`; try with `npm pack dist`.
 */
import { copyFileSync } from 'node:fs'
import { join } from 'node:path'
import { build } from 'tsdown'
import config, { ENTRIES } from '../tsdown.config.ts'

const root = join(import.meta.dir, '..')
const dist = join(root, 'dist')
await build({ ...config, logLevel: 'warn' })

const pkg = await Bun.file(join(root, 'package.json')).json()
const exports: Record<string, unknown> = {}
for (const name of Object.keys(ENTRIES)) {
  exports[name === 'index' ? '.' : `./${name}`] = { types: `./${name}.d.ts`, default: `./${name}.js` }
}
exports['./config.schema.json'] = './config.schema.json'
exports['./package.json'] = './package.json'

const manifest = {
  name: pkg.name,
  version: pkg.version,
  description: pkg.description,
  license: pkg.license,
  type: 'module',
  exports,
  engines: pkg.engines,
  peerDependencies: pkg.peerDependencies,
  dependencies: pkg.dependencies,
}
await Bun.write(join(dist, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`)
for (const file of ['README.md', 'LICENSE', 'config.schema.json']) copyFileSync(join(root, file), join(dist, file))
console.log(`dist/: ${manifest.name}@${manifest.version}, exports ${Object.keys(exports).join(' ')}`)
