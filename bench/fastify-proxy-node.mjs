// A peer: @fastify/http-proxy on Node (the machine's own), round-robin over the origins through its
// getUpstream hook. TARGETS=http://127.0.0.1:9001,http://127.0.0.1:9002 PORT=8083
import proxy from '@fastify/http-proxy'
import Fastify from 'fastify'

const targets = process.env.TARGETS.split(',')
let next = 0
const app = Fastify({ logger: false })
await app.register(proxy, { upstream: targets[0], replyOptions: { getUpstream: () => targets[next++ % targets.length] } })
await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT) })
