/**
 * Writes config.schema.json from the one valibot schema; with --check, fails when the checked-in
 * file is stale instead (npm test runs it that way).
 */
import { configJsonSchema } from '../src/config/json-schema.ts'

const path = new URL('../config.schema.json', import.meta.url).pathname
const fresh = `${JSON.stringify(configJsonSchema(), null, 2)}\n`
const file = Bun.file(path)
if (Bun.argv.includes('--check')) {
  const current = (await file.exists()) ? await file.text() : ''
  if (current !== fresh) {
    console.error('config.schema.json is stale: run `npm run schema` and commit it')
    process.exit(1)
  }
  console.log('config.schema.json is up to date')
} else {
  await Bun.write(path, fresh)
  console.log(`wrote ${path}`)
}
