/**
 * Every relative link in the README and the docs resolves: the file it names exists, and a `#fragment`
 * names a heading of that file (as GitHub makes a heading's anchor). External links are not fetched.
 */
import { expect, test } from 'bun:test'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'

const root = join(import.meta.dir, '..', '..')

/** The markdown files of the README and the docs tree. */
function pages(): string[] {
  const found = [join(root, 'README.md')]
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name)
      if (entry.isDirectory()) walk(path)
      else if (entry.name.endsWith('.md')) found.push(path)
    }
  }
  walk(join(root, 'docs'))
  return found
}

/** GitHub's anchor for a heading: lower case, punctuation dropped (hyphens and underscores kept), spaces as hyphens. */
const anchorOf = (heading: string): string =>
  heading
    .trim()
    .toLowerCase()
    .replace(/`/g, '')
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-')

/** The anchors of a page's headings, with GitHub's -1, -2 for repeats. */
function anchorsOf(text: string): Set<string> {
  const anchors = new Set<string>()
  const seen = new Map<string, number>()
  const outsideCode = text.replace(/```[\s\S]*?```/g, '')
  for (const match of outsideCode.matchAll(/^#{1,6} (.+)$/gm)) {
    const base = anchorOf(match[1]!)
    const n = seen.get(base) ?? 0
    seen.set(base, n + 1)
    anchors.add(n === 0 ? base : `${base}-${n}`)
  }
  return anchors
}

/** Every `[text](target)` and `<target>`-free link of a page outside code blocks, less external ones. */
function linksOf(text: string): string[] {
  const outsideCode = text.replace(/```[\s\S]*?```/g, '').replace(/`[^`\n]*`/g, '')
  return [...outsideCode.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!).filter((target) => !/^[a-z]+:/i.test(target))
}

test('the README and the docs have relative links to check', () => {
  expect(pages().length).toBeGreaterThan(10)
  expect(pages().flatMap((page) => linksOf(readFileSync(page, 'utf8'))).length).toBeGreaterThan(30)
})

for (const page of pages()) {
  test(`every relative link in ${relative(root, page)} resolves`, () => {
    const text = readFileSync(page, 'utf8')
    const broken: string[] = []
    for (const link of linksOf(text)) {
      const [path, fragment] = link.split('#') as [string, string | undefined]
      const file = path === '' ? page : join(dirname(page), decodeURIComponent(path))
      if (!existsSync(file)) {
        broken.push(`${link}: no such file`)
        continue
      }
      if (fragment !== undefined && file.endsWith('.md') && !anchorsOf(readFileSync(file, 'utf8')).has(fragment)) {
        broken.push(`${link}: no such heading`)
      }
    }
    expect(broken).toEqual([])
  })
}

test('every section of the specification names the tests that hold it, and each exists', () => {
  const spec = readFileSync(join(root, 'docs', 'specification.md'), 'utf8')
  const sections = spec.split(/^## /m).slice(1)
  expect(sections.length).toBeGreaterThanOrEqual(8)
  const missing: string[] = []
  for (const section of sections) {
    const checked = /^Checked by: (.+)$/m.exec(section)
    if (checked === null) {
      missing.push(`§${section.split('\n')[0]}: no "Checked by" line`)
      continue
    }
    for (const [, named] of checked[1]!.matchAll(/`([\w./-]+\.ts|test\/[\w./-]+)`/g)) {
      const path = named!.startsWith('scenarios/') ? `test/conformance/${named}` : named!.startsWith('unit/') ? `test/${named}` : named!
      if (!existsSync(join(root, path))) missing.push(path)
    }
  }
  expect(missing).toEqual([])
})
