import { readFileSync } from 'node:fs';
import { loadConfig } from '../../config/load.js';
import type { Config } from '../../config/schema.js';
import { createLoopgate, type Loopgate } from '../../loopgate.js';
import { createLogger } from '../../server.js';

export interface CommonOptions {
  config?: string;
  database?: string;
  policyDir?: string;
}

export function configFrom(options: CommonOptions, overrides: Record<string, unknown> = {}): Config {
  const o: Record<string, unknown> = { ...overrides };
  if (options.database !== undefined) o['database.url'] = options.database;
  if (options.policyDir !== undefined) o['policy.directory'] = options.policyDir;
  return loadConfig(options.config === undefined ? { overrides: o } : { file: options.config, overrides: o });
}

/**
 * A Loopgate for one-shot commands: stdout is kept for the command's output, so logs go to stderr, at warn
 * level unless LOOPGATE_LOG_LEVEL says otherwise; the policy directory is not watched.
 */
export async function openForCommand(config: Config, options: { scoringThread?: boolean } = {}): Promise<Loopgate> {
  const level = (process.env.LOOPGATE_LOG_LEVEL ?? 'warn') as Config['log']['level'];
  const logger = createLogger({ ...config, log: { ...config.log, level } }, 2);
  return createLoopgate(config, { logger, watchPolicies: false, ...options });
}

export function readInput(file: string | undefined): string {
  return readFileSync(file === undefined || file === '-' ? 0 : file, 'utf8');
}

/** Accepts a bare event or a decision request `{"event": ...}`. */
export function eventOf(value: unknown): unknown {
  if (value !== null && typeof value === 'object' && !Array.isArray(value) && 'event' in value && !('type' in value)) {
    return (value as { event: unknown }).event;
  }
  return value;
}
