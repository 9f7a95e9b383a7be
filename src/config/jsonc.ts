import { type ParseError, parse, printParseErrorCode } from 'jsonc-parser'
import { ConfigError } from './issues.ts'

/**
 * Reads a config file's text as JSONC (JSON with comments and trailing commas, what the docs'
 * examples are written in) with the parser VS Code uses. A syntax error names its line and column.
 */
export function readJsonc(text: string): unknown {
  const errors: ParseError[] = []
  const value = parse(text, errors, { allowTrailingComma: true, disallowComments: false, allowEmptyContent: false })
  if (errors.length > 0) {
    throw new ConfigError(errors.slice(0, 5).map((error) => ({ path: '', message: `${describe(error.error)} at ${position(text, error.offset)}` })))
  }
  return value
}

/** `line L, column C` (both from 1) of an offset in the text. */
function position(text: string, offset: number): string {
  const before = text.slice(0, offset)
  const line = before.split('\n').length
  return `line ${line}, column ${offset - before.lastIndexOf('\n')}`
}

/** jsonc-parser's code (`CommaExpected`) as words: "comma expected". */
function describe(code: ParseError['error']): string {
  return `syntax error: ${printParseErrorCode(code)
    .replace(/([a-z])([A-Z])/g, '$1 $2')
    .toLowerCase()}`
}
