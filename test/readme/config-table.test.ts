/**
 * The config table (docs/configuration.md), checked against the one schema: every field it names exists in
 * config.schema.json (at the top level, or in an upstream), and every top-level field and every field
 * of an upstream is named in it (a section's `x.*` covers the section).
 */
import { expect, test } from 'bun:test'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { configJsonSchema } from '../../src/config/json-schema.ts'

type Node = { properties?: Record<string, Node>; items?: Node; additionalProperties?: Node; anyOf?: Node[]; oneOf?: Node[] }

const page = readFileSync(join(import.meta.dir, '..', '..', 'docs', 'configuration.md'), 'utf8')
const table = page.slice(page.indexOf('| field | default | notes |'))
const rows = table.slice(0, table.indexOf('\n\n')).split('\n').slice(2)
/** Every `code` span of the table's first column. */
const named = rows.flatMap((row) => [...(row.split('|')[1] ?? '').matchAll(/`([^`]+)`/g)].map((m) => m[1]!))

const schema = configJsonSchema() as Node
const upstream = schema.properties!.upstreams!.additionalProperties!

/** The schema node at a table path (`routes[].host`, `breaker.*`), from `root`. */
function resolve(root: Node, path: string): Node | undefined {
  let node: Node | undefined = root
  for (const part of path.split('.')) {
    if (node === undefined) return undefined
    if (part === '*') return node
    const [name, array] = [part.replace('[]', ''), part.endsWith('[]')]
    const options: Node[] = node.anyOf ?? node.oneOf ?? [node]
    node = options.map((o) => o.properties?.[name]).find((n) => n !== undefined)
    if (array) node = node?.items
  }
  return node
}

test('every field the config table names exists in the schema', () => {
  expect(named.length).toBeGreaterThan(20)
  const unknown = named.filter((path) => resolve(schema, path) === undefined && resolve(upstream, path) === undefined)
  expect(unknown).toEqual([])
})

test('every top-level and upstream field of the schema is in the config table', () => {
  const covered = (path: string) => named.some((n) => n === path || n.startsWith(`${path}.`) || n.startsWith(`${path}[]`) || n === `${path}.*`)
  const top = Object.keys(schema.properties!).filter((name) => name !== '$schema' && name !== 'upstreams')
  const perUpstream = Object.keys(upstream.properties!)
  expect([...top, ...perUpstream].filter((name) => !covered(name))).toEqual([])
})
