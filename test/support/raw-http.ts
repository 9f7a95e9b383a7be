import { connect } from 'node:net'
import { within } from './wait.ts'

/**
 * Sends bytes exactly as given over a fresh TCP connection and returns everything the server sent
 * back until it closed. For requests `fetch` cannot make: absolute-form targets, forged framing.
 */
export function rawRequest(port: number, text: string): Promise<string> {
  const done = new Promise<string>((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(text))
    let data = ''
    socket.setEncoding('latin1')
    socket.on('data', (chunk) => (data += chunk))
    socket.on('close', () => resolve(data))
    socket.on('error', reject)
  })
  return within(done, 10000, 'a raw HTTP exchange')
}

/** The status code of a raw HTTP response. */
export const statusOf = (raw: string) => Number(raw.split(' ', 2)[1])
