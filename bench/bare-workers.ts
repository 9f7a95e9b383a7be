// The workerd baseline: a bare fetch pass-through Worker, no features (TARGET from --var).
export default {
  fetch(req: Request, env: { TARGET: string }): Promise<Response> {
    const url = new URL(req.url)
    return fetch(env.TARGET + url.pathname + url.search, { method: req.method, headers: req.headers, body: req.body, redirect: 'manual' })
  },
}
