import * as v from 'valibot'

/** A field with its description: what editors show on hover (config.schema.json), and what the config table (docs/configuration.md) is checked against. */
export const about = <S extends v.GenericSchema>(text: string, schema: S) => v.pipe(schema, v.description(text))
