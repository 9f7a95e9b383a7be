/**
 * The dashboard as an operator meets it: real headless Chromium (Debian's, driven by playwright-core)
 * against the Bun proxy. Log in, see both targets healthy, fail one origin, see it turn red within the
 * check interval without reloading, see it recover; a wrong token sees no data. A screenshot is
 * written to test-output/dashboard.png.
 */
import { afterAll, expect } from 'bun:test'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { chromium, type Browser } from 'playwright-core'
import { bun } from '../conformance/harness.ts'
import { testWithTools } from '../support/with-tools.ts'
import { startOrigin } from '../support/origin.ts'

const cleanups: (() => Promise<unknown>)[] = []
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {})
})
const output = join(import.meta.dir, '..', '..', 'test-output')

testWithTools(
  ['chromium'],
  'the dashboard in headless Chromium: login, both targets green, one turns red within the check interval and recovers, without a reload; a wrong token sees nothing',
  async () => {
    let broken = false
    const a = startOrigin((request) => (new URL(request.url).pathname === '/healthz' && broken ? new Response('down', { status: 503 }) : new Response('a')))
    const b = startOrigin(() => new Response('b'))
    cleanups.push(
      () => a.stop(),
      () => b.stop(),
    )
    const healthCheck = { path: '/healthz', intervalMs: 300, timeoutMs: 250, healthyThreshold: 1, unhealthyThreshold: 1 }
    const proxy = await bun.start({
      upstreams: { api: { targets: [{ url: a.url }, { url: b.url }], healthCheck } },
      routes: [{ pathPrefix: '/', upstream: 'api' }],
      admin: { token: 'dash-token-0123456789' },
    })
    cleanups.push(() => proxy.stop('SIGKILL'))
    for (let i = 0; i < 10; i++) await fetch(`${proxy.url}/x`).then((r) => r.text())

    const browser: Browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] })
    cleanups.push(() => browser.close())
    const page = await browser.newPage()
    // A wrong token: the login form again, and no data.
    await page.goto(`${proxy.url}/_proxy/`) // with the slash people type
    await page.fill('input[name=token]', 'not-the-token')
    await page.click('button[type=submit]')
    await page.waitForSelector('text=That token is not the admin token')
    expect(await page.locator('[data-target]').count()).toBe(0)
    expect((await page.request.get(`${proxy.url}/_proxy/dashboard.json`)).status()).toBe(401)

    // The right one: both targets green.
    await page.fill('input[name=token]', 'dash-token-0123456789')
    await page.click('button[type=submit]')
    const health = (url: string) => page.locator(`tr[data-target="${url}"] [data-health]`)
    /** Waits for the target's health cell to read `text` (the page redraws itself every second). */
    const shows = (url: string, text: string, timeout = 5000) => page.locator(`tr[data-target="${url}"] [data-health]:text-is("${text}")`).waitFor({ timeout })
    await shows(a.url, 'healthy')
    await shows(b.url, 'healthy')
    expect(await health(a.url).getAttribute('class')).toBe('ok')
    // Latencies are shown with the precision they have: whole milliseconds, '<1' under one, never '0.0'.
    for (const cell of await page.locator('[data-p50], [data-p99]').allTextContents()) expect(cell).toMatch(/^(<1|\d+|–)$/)

    // A fails its checks: red within the interval, with no reload (the same document throughout).
    const marker = await page.evaluate(() => {
      ;(window as unknown as { marker: number }).marker = Math.random()
      return (window as unknown as { marker: number }).marker
    })
    broken = true
    await shows(a.url, 'unhealthy')
    expect(await health(a.url).getAttribute('class')).toBe('bad')
    mkdirSync(output, { recursive: true })
    await page.screenshot({ path: join(output, 'dashboard.png'), fullPage: true })
    broken = false
    await shows(a.url, 'healthy')
    expect(await page.evaluate(() => (window as unknown as { marker: number }).marker)).toBe(marker)
  },
  60000,
)
