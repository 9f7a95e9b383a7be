import { defineConfig } from 'tsdown'

/** What the package exports (`edge-proxy/<name>`), each from its source; scripts/package.ts writes the manifest from it. */
export const ENTRIES = {
  index: 'src/index.ts',
  client: 'src/client/index.ts',
  bun: 'runtimes/bun.ts',
  deno: 'runtimes/deno.ts',
  workers: 'runtimes/workers.ts',
  'stores/redis': 'runtimes/stores/redis.ts',
  'stores/deno-kv': 'runtimes/stores/deno-kv.ts',
  'stores/durable-object': 'runtimes/stores/durable-object.ts',
  'stores/kv': 'runtimes/stores/kv.ts',
  runtime: 'src/runtime.ts',
}

/** The package build: ESM and .d.ts for every entry, into dist/ (ADR 18). */
export default defineConfig({
  entry: ENTRIES,
  outDir: 'dist',
  clean: true,
  format: 'esm',
  platform: 'neutral',
  target: 'es2022',
  dts: true,
  // Runtime modules stay imports; dependencies and the hono peer are never bundled either (tsdown's default).
  deps: { neverBundle: ['bun', /^cloudflare:/, /^node:/] },
})
