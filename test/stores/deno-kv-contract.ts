/** The store contract run against Deno KV, under Deno: `deno run -A test/stores/deno-kv-contract.ts FILE`. Prints the results as JSON. */
import { DenoKvStore } from '../../runtimes/stores/deno-kv.ts'
import { runContract } from './contract.ts'

const kv = await Deno.openKv(Deno.args[0])
console.log(JSON.stringify(await runContract(new DenoKvStore(kv), 'contract')))
kv.close()
