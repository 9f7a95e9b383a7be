/**
 * Items by their time in a binary min-heap: the soonest is found in O(1) and taken in O(log n).
 * Items are never removed from the middle: a reader checks each against what it names (a key's
 * record may have been renewed since), and rebuilds the heap when stale items pile up.
 */
export class MinHeap<T extends { at: number }> {
  private items: T[] = []

  get size(): number {
    return this.items.length
  }

  /** Only these items (O(n log n), and rarely). */
  rebuild(items: Iterable<T>): void {
    this.items = []
    for (const item of items) this.push(item)
  }

  push(item: T): void {
    const items = this.items
    items.push(item)
    for (let i = items.length - 1; i > 0; ) {
      const parent = (i - 1) >> 1
      if (items[parent]!.at <= items[i]!.at) break
      ;[items[parent], items[i]] = [items[i]!, items[parent]!]
      i = parent
    }
  }

  peek(): T | undefined {
    return this.items[0]
  }

  /** Takes the soonest item. */
  pop(): T | undefined {
    const items = this.items
    const top = items[0]
    const last = items.pop()
    if (top === undefined || last === undefined || items.length === 0) return top
    items[0] = last
    for (let i = 0; ; ) {
      const left = 2 * i + 1
      const right = left + 1
      let least = i
      if (left < items.length && items[left]!.at < items[least]!.at) least = left
      if (right < items.length && items[right]!.at < items[least]!.at) least = right
      if (least === i) break
      ;[items[least], items[i]] = [items[i]!, items[least]!]
      i = least
    }
    return top
  }
}
