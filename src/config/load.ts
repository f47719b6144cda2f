/**
 * Loads the configuration: defaults, then a file (YAML or JSON), then LOOPGATE_* environment variables, then
 * explicit overrides (CLI flags). Validates the result and reports every problem with where the value came from.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { TSchema } from 'typebox';
import { parse as parseYaml } from 'yaml';
import { createAjv, fieldErrors } from '../core/events/parse.js';
import { LoopgateError } from '../core/errors.js';
import { ConfigSchema, type Config } from './schema.js';

export interface ConfigSetting {
  path: string[];
  env: string;
  schema: TSchema & Record<string, unknown>;
}

/** Every leaf setting with its environment variable: the explicit alias, or LOOPGATE_ + the path. */
export function listSettings(schema: TSchema = ConfigSchema, path: string[] = []): ConfigSetting[] {
  const s = schema as Record<string, unknown>;
  if (s.type === 'object' && s.properties !== undefined) {
    return Object.entries(s.properties as Record<string, TSchema>).flatMap(([k, v]) => listSettings(v, [...path, k]));
  }
  const env = typeof s.env === 'string' ? s.env : `LOOPGATE_${path.join('_').toUpperCase()}`;
  return [{ path, env, schema: s as TSchema & Record<string, unknown> }];
}

export interface LoadConfigOptions {
  /** A config file; default LOOPGATE_CONFIG, else ./loopgate.yaml when it exists. */
  file?: string;
  env?: NodeJS.ProcessEnv;
  overrides?: Record<string, unknown>;
}

const ajv = createAjv({ useDefaults: true });
const validate = ajv.compile(ConfigSchema);

export function loadConfig(options: LoadConfigOptions = {}): Config {
  const environment = options.env ?? process.env;
  const problems: string[] = [];
  let raw: Record<string, unknown> = {};

  const file = options.file ?? environment.LOOPGATE_CONFIG ?? (existsSync('loopgate.yaml') ? 'loopgate.yaml' : undefined);
  if (file !== undefined) {
    const path = resolve(file);
    try {
      const text = readFileSync(path, 'utf8');
      const parsed: unknown = path.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
      if (parsed !== null && parsed !== undefined) {
        if (typeof parsed !== 'object' || Array.isArray(parsed)) problems.push(`${file}: must contain a mapping of settings`);
        else raw = parsed as Record<string, unknown>;
      }
    } catch (e) {
      problems.push(`${file}: ${(e as Error).message.split('\n')[0]}`);
    }
  }

  const fromEnv = new Map<string, string>();
  for (const setting of listSettings()) {
    const value = environment[setting.env];
    if (value === undefined || value === '') continue;
    const parsed = parseEnvValue(value, setting.schema);
    if (parsed.error !== undefined) {
      problems.push(`${setting.env}=${JSON.stringify(value)}: ${parsed.error}`);
      continue;
    }
    setPath(raw, setting.path, parsed.value);
    fromEnv.set(setting.path.join('.'), setting.env);
  }
  const fromOption = new Set<string>();
  for (const [key, value] of Object.entries(options.overrides ?? {})) {
    if (value === undefined) continue;
    setPath(raw, key.split('.'), value);
    fromOption.add(key);
  }

  const config = structuredClone(raw);
  if (!validate(config)) {
    for (const e of fieldErrors(validate.errors ?? [], (path) => path)) {
      const key = e.pointer.slice(1).replaceAll('/', '.');
      // Options are applied last, so they win over the environment, which wins over the file.
      const source = fromOption.has(key) ? `option ${key}` : (fromEnv.get(key) ?? (file ? `${file}: ${key}` : key));
      const detail = e.detail.startsWith('is not a known field') ? 'is not a known setting' : e.detail;
      problems.push(`${source} ${detail}`);
    }
  }
  const c = config as Config;
  if (problems.length === 0) {
    const { medium, high, critical } = c.risk.levels;
    if (!(medium < high && high < critical)) problems.push('risk.levels must satisfy medium < high < critical');
  }
  if (problems.length > 0) {
    throw new LoopgateError('LOOPGATE_ERR_CONFIG_INVALID', `invalid configuration:\n  - ${problems.join('\n  - ')}`);
  }
  return c;
}

function parseEnvValue(value: string, schema: Record<string, unknown>): { value?: unknown; error?: string } {
  const type = schema.type ?? (Array.isArray(schema.anyOf) ? 'string' : undefined);
  switch (type) {
    case 'integer':
    case 'number': {
      const n = Number(value);
      if (!Number.isFinite(n)) return { error: `must be a number` };
      return { value: n };
    }
    case 'boolean':
      if (/^(1|true|yes|on)$/i.test(value)) return { value: true };
      if (/^(0|false|no|off)$/i.test(value)) return { value: false };
      return { error: 'must be true or false' };
    case 'array':
      return { value: value.split(',').map((v) => v.trim()).filter((v) => v !== '') };
    default:
      return { value };
  }
}

function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (next === undefined || next === null || typeof next !== 'object') node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[path[path.length - 1]!] = value;
}

/** The configuration with secrets masked ("[set]") and any database password removed: safe to print or record. */
export function redactConfig(config: Config): Config {
  const shown = structuredClone(config) as unknown as Record<string, unknown>;
  for (const s of listSettings()) {
    if (s.schema.secret !== true) continue;
    let node: Record<string, unknown> | undefined = shown;
    for (const key of s.path.slice(0, -1)) node = node?.[key] as Record<string, unknown> | undefined;
    const last = s.path[s.path.length - 1]!;
    if (node !== undefined && node[last] !== undefined) node[last] = '[set]';
  }
  const c = shown as unknown as Config;
  c.database.url = c.database.url.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:***@');
  return c;
}
