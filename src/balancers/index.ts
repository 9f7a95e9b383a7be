import type { BalancerName } from '../config/schema.ts'
import type { BalancerFactory } from './types.ts'
import { roundRobin } from './round-robin.ts'
import { weightedRoundRobin } from './weighted-round-robin.ts'
import { leastConnections } from './least-connections.ts'
import { leastLatency } from './least-latency.ts'
import { random } from './random.ts'
import { ipHash } from './ip-hash.ts'

export const BALANCERS: Record<BalancerName, BalancerFactory> = {
  'round-robin': roundRobin,
  'weighted-round-robin': weightedRoundRobin,
  'least-connections': leastConnections,
  'least-latency': leastLatency,
  random,
  'ip-hash': ipHash,
}

export type { Available, Balancer, BalancerFactory, PickContext } from './types.ts'
