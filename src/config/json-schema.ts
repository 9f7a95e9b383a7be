import { toJsonSchema } from '@valibot/to-json-schema'
import { ConfigSchema } from './schema.ts'

/** The JSON Schema of the config file, generated from the one valibot schema (config.schema.json). */
export function configJsonSchema(): Record<string, unknown> {
  return {
    ...toJsonSchema(ConfigSchema, { errorMode: 'ignore' }),
    title: 'edge-proxy config',
  }
}
