/** The request body the tries send, and how a streamed one fails on the client's side. */

/** The error a size-limited request body fails with once it passes the limit. */
export class BodyTooLarge extends Error {
  constructor(limit: number) {
    super(`request body exceeds ${limit} bytes`)
    this.name = 'BodyTooLarge'
  }
}

/** The client's body stopped before its end (the client left, or its connection broke): the client's doing. */
export class BodyBrokeOff extends Error {
  constructor(cause: unknown) {
    super('the request body broke off', { cause })
    this.name = 'BodyBrokeOff'
  }
}

/** The request body the attempts send. */
export interface RequestBody {
  /** The whole body, read ahead because it fit the replay buffer: every attempt can send it again. */
  readonly bytes: Uint8Array<ArrayBuffer> | null
  /** Otherwise the client's stream, size-limited, which can be sent once; null when there is no body. */
  readonly stream: ReadableStream<Uint8Array> | null
  /**
   * Aborted when a streamed body fails on the client's side: with BodyTooLarge when one of unknown
   * length passes the limit, with BodyBrokeOff when the client's body stops short (null when nothing
   * streams). An attempt cancels its upstream call on it, as the client's fault, not the target's:
   * workerd ends an upload cleanly when its body stream fails, so the stream's error alone would
   * hand the upstream a truncated body as if it were whole.
   */
  readonly failed: AbortSignal | null
  /** How a streamed body is getting on (null when nothing streams): a try's timer waits for it. */
  readonly upload: Upload | null
  /** Bytes of the read-ahead budget it holds (what was read ahead), given back when its request is over. */
  readonly held: number
  /** It was to be read ahead, but the read-ahead budget had no room: it streams, sent once, never retried or hedged. */
  readonly overBudget: boolean
}

/**
 * A body streaming to the upstream during a try. NGINX and Envoy start the upstream's timeout once
 * the request body is in, so a client that trickles its body is not taken for a slow target.
 */
export interface Upload {
  /** Resolves once the upstream has read the whole body (never, if it fails or is cancelled). */
  readonly sent: Promise<void>
  /** Whether the upstream is waiting for the client's next chunk right now: the client is the slow side. */
  waitingForClient(): boolean
}

/** Whether another attempt can send this body again: it was buffered, or there is none. */
export const replayable = (body: RequestBody): boolean => body.stream === null
