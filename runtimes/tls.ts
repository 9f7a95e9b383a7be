/**
 * TLS files for Bun and Deno (node:fs reads them on both): the listener's certificate and key, and
 * each upstream's CA. All are read when the proxy starts, so a missing or unreadable file stops
 * start-up with the field's path, as any other config error does.
 */
import { readFileSync } from 'node:fs'
import { ConfigError, type Config, type UpstreamTls } from '../src/index.ts'

/** An upstream's TLS settings with its CA file read: what the runtimes' clients take. */
export interface ClientTls {
  ca?: string
  serverName?: string
  rejectUnauthorized: boolean
}

/** The listener's certificate and key, read; undefined for a plain-HTTP listener. */
export interface ListenerTls {
  cert: string
  key: string
}

/** Every TLS file the config names, read once: the listener's, and each upstream's settings by identity. */
export interface TlsFiles {
  listener?: ListenerTls
  /** The client settings for an upstream's `tls` (the object from the config). */
  client(tls: UpstreamTls): ClientTls
}

export function readTlsFiles(config: Config): TlsFiles {
  const problems: { path: string; message: string }[] = []
  const read = (file: string, path: string): string => {
    try {
      return readFileSync(file, 'utf8')
    } catch (error) {
      problems.push({ path, message: `cannot read ${file}: ${(error as Error).message}` })
      return ''
    }
  }
  const { tls } = config.listen
  const listener = tls && { cert: read(tls.certFile, 'listen.tls.certFile'), key: read(tls.keyFile, 'listen.tls.keyFile') }
  const clients = new Map<UpstreamTls, ClientTls>()
  for (const [name, upstream] of Object.entries(config.upstreams)) {
    const { tls } = upstream
    if (tls === undefined) continue
    const ca = tls.caFile === undefined ? undefined : read(tls.caFile, `upstreams.${name}.tls.caFile`)
    clients.set(tls, { ca, serverName: tls.serverName, rejectUnauthorized: tls.rejectUnauthorized })
  }
  if (problems.length > 0) throw new ConfigError(problems)
  return {
    listener,
    client: (tls) => clients.get(tls) ?? { rejectUnauthorized: tls.rejectUnauthorized, serverName: tls.serverName },
  }
}
