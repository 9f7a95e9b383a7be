/** Every config example in the README and the docs, cut out as printed and loaded: what a user copies must load. */
import { expect, test } from 'bun:test'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseConfig } from '../../src/config/parse.ts'

const root = join(import.meta.dir, '..', '..')
const pages = [
  'README.md',
  ...readdirSync(join(root, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`),
]
const examples = pages.flatMap((page) =>
  [...readFileSync(join(root, page), 'utf8').matchAll(/```jsonc?\n([\s\S]*?)```/g)].map((match) => ({ page, text: match[1]! })),
)

test('the README and the docs have config examples to load', () => {
  expect(examples.length).toBeGreaterThanOrEqual(3)
})

for (const [i, { page, text }] of examples.entries()) {
  test(`${page} config example ${i + 1} loads as printed (${text.split('\n')[1]?.trim().slice(0, 40) ?? ''})`, () => {
    // The examples name ${ADMIN_TOKEN}: the variable a user sets.
    expect(() => parseConfig(text, { ADMIN_TOKEN: 'a-token-of-sixteen-chars' })).not.toThrow()
  })
}
