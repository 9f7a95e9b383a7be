/** One thing wrong with a config, named by its path (`upstreams.api.targets[0].url`). */
export interface ConfigIssue {
  path: string
  message: string
}

export function formatIssues(issues: readonly ConfigIssue[]): string {
  return issues.map((i) => `${i.path || '(config)'}: ${i.message}`).join('\n')
}

/** Thrown by `parseConfig` when a config fails validation; carries every issue. */
export class ConfigError extends Error {
  constructor(readonly issues: readonly ConfigIssue[]) {
    super(`invalid config:\n${formatIssues(issues)}`)
    this.name = 'ConfigError'
  }
}
