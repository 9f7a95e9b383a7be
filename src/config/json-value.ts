/** Whether a parsed JSON value is an object (not null, not an array): what the config walks descend into. */
export const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value)
