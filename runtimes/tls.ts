/**
 * TLS files for Bun and Deno (node:fs reads them on both): the listener's certificate and key, and
 * each upstream's CA. All are read when the proxy starts, so a missing or unreadable file stops
 * start-up with the field's path, as any other config error does.
 */
import { closeSync, constants, fstatSync, openSync, readSync, statSync } from 'node:fs'

/** The most a PEM file the config names may hold: a certificate chain is a few KiB. */
export const MAX_PEM_BYTES = 1024 * 1024

/**
 * A PEM file's text, read so that no path can hold the proxy up: only a regular file (a FIFO would
 * block every request until something wrote to it, a device like /dev/zero never ends), checked
 * before the open and again on the open descriptor, opened without blocking, and read up to
 * MAX_PEM_BYTES (one byte more is an error). Errors name the file, never what it holds.
 */
export function readPemFile(file: string): string {
  if (!statSync(file).isFile()) throw new Error('not a regular file')
  const fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK)
  try {
    if (!fstatSync(fd).isFile()) throw new Error('not a regular file')
    const bytes = new Uint8Array(MAX_PEM_BYTES + 1)
    let size = 0
    for (let n = 1; n > 0 && size < bytes.length; size += n) n = readSync(fd, bytes, size, bytes.length - size, null)
    if (size > MAX_PEM_BYTES) throw new Error(`larger than ${MAX_PEM_BYTES} bytes`)
    return new TextDecoder().decode(bytes.subarray(0, size))
  } finally {
    closeSync(fd)
  }
}
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
      return readPemFile(file)
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
