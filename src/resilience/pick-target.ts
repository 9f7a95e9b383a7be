import { ProxyError } from '../errors/proxy-error.ts'
import type { Available } from '../balancers/index.ts'
import type { Handler, TargetHandler } from './types.ts'

const EVERY_TARGET: Available = () => true

/** Lets the upstream's balancer choose a target among the available ones, then runs the attempt on it. */
export function pickTarget(next: TargetHandler, available: Available = EVERY_TARGET): Handler {
  return (exchange) => {
    const target = exchange.upstream.balancer.pick(available, { clientAddress: exchange.client.address })
    if (target === undefined) {
      throw new ProxyError('NO_HEALTHY_TARGET', `no target of upstream "${exchange.upstream.name}" is available`)
    }
    return next(exchange, target)
  }
}
