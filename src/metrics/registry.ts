/**
 * Counters and histograms in the Prometheus text format (0.0.4), as small as the proxy needs: a
 * series per label set, labels always from bounded sets (upstream and target names, route prefixes,
 * status classes, error codes), never from a request's path or a client address.
 */
export type Labels = Record<string, string>

/** `a="x",b="y"`, escaped as the format asks. */
function labelText(labels: Labels): string {
  return Object.entries(labels)
    .map(([name, value]) => `${name}="${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`)
    .join(',')
}

const braces = (text: string) => (text === '' ? '' : `{${text}}`)

export class Counter {
  private readonly series = new Map<string, number>()
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}

  inc(labels: Labels, by = 1): void {
    const key = labelText(labels)
    this.series.set(key, (this.series.get(key) ?? 0) + by)
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`]
    for (const [key, value] of this.series) lines.push(`${this.name}${braces(key)} ${value}`)
    return lines.join('\n')
  }
}

/** Seconds, from 5 ms to a minute: proxied requests, tries and streams. */
export const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]

export class Histogram {
  private readonly series = new Map<string, { counts: number[]; sum: number; count: number }>()
  constructor(
    readonly name: string,
    readonly help: string,
    readonly buckets: readonly number[] = DURATION_BUCKETS,
  ) {}

  observe(labels: Labels, value: number): void {
    const key = labelText(labels)
    let series = this.series.get(key)
    if (series === undefined) {
      series = { counts: this.buckets.map(() => 0), sum: 0, count: 0 }
      this.series.set(key, series)
    }
    for (let i = 0; i < this.buckets.length; i++) if (value <= this.buckets[i]!) series.counts[i]!++
    series.sum += value
    series.count++
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`]
    for (const [key, { counts, sum, count }] of this.series) {
      const prefix = key === '' ? '' : `${key},`
      for (let i = 0; i < this.buckets.length; i++) lines.push(`${this.name}_bucket{${prefix}le="${this.buckets[i]}"} ${counts[i]}`)
      lines.push(`${this.name}_bucket{${prefix}le="+Inf"} ${count}`, `${this.name}_sum${braces(key)} ${sum}`, `${this.name}_count${braces(key)} ${count}`)
    }
    return lines.join('\n')
  }
}

/** A gauge read at scrape time from the proxy's state. */
export function gauge(name: string, help: string, samples: Iterable<[Labels, number]>): string {
  const lines = [`# HELP ${name} ${help}`, `# TYPE ${name} gauge`]
  for (const [labels, value] of samples) lines.push(`${name}${braces(labelText(labels))} ${value}`)
  return lines.join('\n')
}
