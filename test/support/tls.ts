import { spawnSync } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** PEM files made for one test run: a private CA and a certificate it signed, and a self-signed one. */
export interface TestCertificates {
  dir: string
  /** The private CA's certificate. */
  caFile: string
  /** A certificate signed by the CA, for 127.0.0.1, localhost and origin.test, and its key. */
  certFile: string
  keyFile: string
  /** A self-signed certificate for 127.0.0.1 and localhost, and its key. */
  selfSignedFile: string
  selfSignedKeyFile: string
}

/** Makes the certificates with Debian's openssl, valid for two days, in a temp directory. */
export function makeCertificates(): TestCertificates {
  const dir = mkdtempSync(join(tmpdir(), 'edge-proxy-tls-'))
  const at = (name: string) => join(dir, name)
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
  const run = (args: string[]) => {
    const result = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' })
    if (result.status !== 0) throw new Error(`openssl ${args[0]} failed: ${result.stderr}`)
  }
  run(['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=edge-proxy test CA'])
  run(['req', ...ec, '-keyout', 'leaf.key', '-out', 'leaf.csr', '-subj', '/CN=origin.test'])
  Bun.write(at('leaf.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:origin.test\n')
  run(['x509', '-req', '-in', 'leaf.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'leaf.pem', '-days', '2', '-extfile', 'leaf.ext'])
  run([
    'req',
    '-x509',
    ...ec,
    '-keyout',
    'self.key',
    '-out',
    'self.pem',
    '-days',
    '2',
    '-subj',
    '/CN=localhost',
    '-addext',
    'subjectAltName=IP:127.0.0.1,DNS:localhost',
  ])
  return {
    dir,
    caFile: at('ca.pem'),
    certFile: at('leaf.pem'),
    keyFile: at('leaf.key'),
    selfSignedFile: at('self.pem'),
    selfSignedKeyFile: at('self.key'),
  }
}
