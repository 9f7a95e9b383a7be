import type { ConfigIssue } from './issues.ts'
import { isRecord } from './json-value.ts'

/** The parts of a valibot schema this walk reads: enough to find every object's known fields. */
interface SchemaNode {
  type: string
  entries?: Record<string, SchemaNode>
  wrapped?: SchemaNode
  item?: SchemaNode
  value?: SchemaNode
  key?: string | SchemaNode
  options?: SchemaNode[]
}

/**
 * Every field the schema does not know, in every object of the input, with a "did you mean" for a
 * near miss (`balancr` → `balancer`, `tryTimeoutMS` → `tryTimeoutMs`). Valibot's strict objects
 * stop at the first unknown field of each object; this walk names them all.
 */
export function unknownFields(schema: SchemaNode, input: unknown, path = ''): ConfigIssue[] {
  if (schema.type === 'optional' || schema.type === 'nullish' || schema.type === 'nullable') return unknownFields(schema.wrapped!, input, path)
  if (schema.type === 'array' && Array.isArray(input)) return input.flatMap((item, i) => unknownFields(schema.item!, item, `${path}[${i}]`))
  if (schema.type === 'record' && isRecord(input)) return Object.entries(input).flatMap(([key, value]) => unknownFields(schema.value!, value, join(path, key)))
  if (schema.type === 'variant' && isRecord(input)) {
    const option = schema.options!.find(
      (o) => (o.entries?.[schema.key as string] as { literal?: unknown } | undefined)?.literal === input[schema.key as string],
    )
    return option === undefined ? [] : unknownFields(option, input, path)
  }
  if (schema.type !== 'strict_object' || !isRecord(input)) return []
  const known = Object.keys(schema.entries!)
  return Object.entries(input).flatMap(([key, value]) => {
    const entry = schema.entries![key]
    if (entry !== undefined) return unknownFields(entry, value, join(path, key))
    const near = closest(key, known)
    return [{ path: join(path, key), message: near === undefined ? 'unknown field' : `unknown field (did you mean "${near}"?)` }]
  })
}

const join = (path: string, key: string) => (path === '' ? key : `${path}.${key}`)

/** The known name nearest to `name`, when it is near enough to be a typo. */
function closest(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined
  let bestDistance = Number.POSITIVE_INFINITY
  for (const candidate of known) {
    const distance = editDistance(name.toLowerCase(), candidate.toLowerCase())
    if (distance < bestDistance) {
      best = candidate
      bestDistance = distance
    }
  }
  return bestDistance <= Math.max(2, Math.floor(name.length / 4)) ? best : undefined
}

/** Levenshtein distance, one row at a time. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const row = [i]
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(previous[j]! + 1, row[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1))
    previous = row
  }
  return previous[b.length]!
}
