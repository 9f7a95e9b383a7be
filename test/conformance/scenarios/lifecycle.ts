import { expect } from 'bun:test'
import { deferred, within } from '../../support/wait.ts'
import { oneUpstream, type Scenario } from '../context.ts'

export const lifecycle: Scenario[] = [
  {
    name: 'graceful shutdown: SIGTERM lets an in-flight slow request finish, then exits 0',
    skip: { workers: 'wrangler dev does not drain on SIGTERM; on Cloudflare the platform drains in-flight requests on deploy' },
    async run(ctx) {
      const release = deferred()
      const origin = ctx.origin(async () => {
        await release.promise
        return new Response('finished after drain began')
      })
      const proxy = await ctx.proxy(oneUpstream([origin.url]))
      const arrived = origin.nextRequest()
      const inFlight = fetch(`${proxy.url}/slow`)
      await within(arrived, 5000, 'the slow request to reach the origin')
      const exited = proxy.stop('SIGTERM')
      await proxy.line('"event":"draining"')
      release.resolve()
      const res = await inFlight
      expect(res.status).toBe(200)
      expect(await res.text()).toBe('finished after drain began')
      expect(await exited).toBe(0)
      const after = await fetch(`${proxy.url}/`).then(
        () => 'served',
        () => 'refused',
      )
      expect(after).toBe('refused')
    },
  },
]
