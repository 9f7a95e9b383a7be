/**
 * Counters and histograms in the Prometheus text format (0.0.4), as small as the proxy needs: a
 * series per label set, labels always from bounded sets (upstream and target names, route prefixes,
 * status classes, error codes), never from a request's path or a client address. A metric names its
 * labels once; a sample gives their values in that order and is found by them, one map per label
 * (escaping waits for the scrape), so counting makes no string.
 */

/** The format's escapes for a label value. */
const escapeValue = (value: string) => value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')

/** `{a="x",b="y"}` for these names and values; nothing for no labels. */
function labelText(names: readonly string[], values: readonly string[], extra = ''): string {
  const pairs = names.map((name, i) => `${name}="${escapeValue(values[i]!)}"`)
  if (extra !== '') pairs.push(extra)
  return pairs.length === 0 ? '' : `{${pairs.join(',')}}`
}

/** Series by their label values, one map level per label: a lookup makes no string. */
type Tree<Series> = Map<string, Tree<Series> | { values: string[]; data: Series }>

abstract class Metric<Series> {
  private readonly tree: Tree<Series> = new Map()
  protected readonly series: { values: string[]; data: Series }[] = []
  constructor(
    readonly name: string,
    readonly help: string,
    readonly labels: readonly string[],
  ) {}

  protected at(values: string[], create: () => Series): Series {
    let level = this.tree
    for (let i = 0; i < values.length - 1; i++) {
      let next = level.get(values[i]!) as Tree<Series> | undefined
      if (next === undefined) {
        next = new Map()
        level.set(values[i]!, next)
      }
      level = next
    }
    const last = values.length === 0 ? '' : values[values.length - 1]!
    let entry = level.get(last) as { values: string[]; data: Series } | undefined
    if (entry === undefined) {
      entry = { values, data: create() }
      level.set(last, entry)
      this.series.push(entry)
    }
    return entry.data
  }
}

export class Counter extends Metric<{ value: number }> {
  inc(values: string[], by = 1): void {
    this.at(values, () => ({ value: 0 })).value += by
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`]
    for (const { values, data } of this.series) lines.push(`${this.name}${labelText(this.labels, values)} ${data.value}`)
    return lines.join('\n')
  }
}

/** Seconds, from 5 ms to a minute: proxied requests, tries and streams. */
export const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]

export class Histogram extends Metric<{ counts: number[]; sum: number; count: number }> {
  readonly buckets: readonly number[] = DURATION_BUCKETS

  observe(values: string[], value: number): void {
    const series = this.at(values, () => ({ counts: this.buckets.map(() => 0), sum: 0, count: 0 }))
    // Counted in the first bucket that holds it; made cumulative when rendered.
    let i = 0
    while (i < this.buckets.length && value > this.buckets[i]!) i++
    if (i < this.buckets.length) series.counts[i]!++
    series.sum += value
    series.count++
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`]
    for (const { values, data } of this.series) {
      let cumulative = 0
      for (let i = 0; i < this.buckets.length; i++) {
        cumulative += data.counts[i]!
        lines.push(`${this.name}_bucket${labelText(this.labels, values, `le="${this.buckets[i]}"`)} ${cumulative}`)
      }
      lines.push(`${this.name}_bucket${labelText(this.labels, values, 'le="+Inf"')} ${data.count}`)
      lines.push(`${this.name}_sum${labelText(this.labels, values)} ${data.sum}`, `${this.name}_count${labelText(this.labels, values)} ${data.count}`)
    }
    return lines.join('\n')
  }
}

/** A gauge read at scrape time from the proxy's state. */
export function gauge(name: string, help: string, labels: readonly string[], samples: Iterable<[string[], number]>): string {
  const lines = [`# HELP ${name} ${help}`, `# TYPE ${name} gauge`]
  for (const [values, value] of samples) lines.push(`${name}${labelText(labels, values)} ${value}`)
  return lines.join('\n')
}
