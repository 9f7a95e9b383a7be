/** Every config example in the README, cut out as printed and loaded: what a user copies must load. */
import { expect, test } from 'bun:test'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseConfig } from '../../src/config/parse.ts'

const readme = readFileSync(join(import.meta.dir, '..', '..', 'README.md'), 'utf8')
const examples = [...readme.matchAll(/```jsonc?\n([\s\S]*?)```/g)].map((match) => match[1]!)

test('the README has config examples to load', () => {
  expect(examples.length).toBeGreaterThanOrEqual(3)
})

for (const [i, text] of examples.entries()) {
  test(`README config example ${i + 1} loads as printed (${text.split('\n')[1]?.trim().slice(0, 40) ?? ''})`, () => {
    // The examples name ${ADMIN_TOKEN}: the variable a user sets.
    expect(() => parseConfig(text, { ADMIN_TOKEN: 'a-token-of-sixteen-chars' })).not.toThrow()
  })
}
