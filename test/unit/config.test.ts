import { describe, it, expect, afterAll } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listSettings, loadConfig } from '../../src/config/load.js';
import { LoopgateError } from '../../src/core/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'loopgate-config-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

/** The LoopgateError thrown by loadConfig. */
function failure(options: Parameters<typeof loadConfig>[0]): LoopgateError {
  try {
    loadConfig(options);
  } catch (e) {
    if (e instanceof LoopgateError) return e;
    throw e;
  }
  throw new Error('expected loadConfig to throw');
}

/** The listed problems of a config error, one per line. */
function problems(e: LoopgateError): string[] {
  return e.message
    .split('\n')
    .slice(1)
    .map((l) => l.replace(/^ {2}- /, ''));
}

describe('loadConfig defaults', () => {
  it('gives the documented defaults with an empty environment', () => {
    const c = loadConfig({ env: {} });
    expect(c.server.port).toBe(7470);
    expect(c.server.host).toBe('127.0.0.1');
    expect(c.database.url).toBe('./data/loopgate.db');
    expect(c.server.trust_proxy).toBe(false);
    expect(c.database.max_batch).toBe(512);
    expect(c.risk.half_life_days).toBe(90);
    expect(c.risk.weights).toEqual({ network: 1, client: 0.7, device: 0.8, hour: 0.3 });
    expect(c.risk.levels).toEqual({ medium: 0.3, high: 0.7, critical: 0.95 });
    expect(c.risk.learn_max_level).toBe('low');
    expect(c.log.level).toBe('info');
    expect(c.geoip.city_databases).toEqual([]);
    expect(c.server.public_url).toBeUndefined();
  });

  it('does not read process.env when env is given', () => {
    const before = process.env.LOOPGATE_PORT;
    process.env.LOOPGATE_PORT = '1234';
    try {
      expect(loadConfig({ env: {} }).server.port).toBe(7470);
    } finally {
      if (before === undefined) delete process.env.LOOPGATE_PORT;
      else process.env.LOOPGATE_PORT = before;
    }
  });
});

describe('loadConfig from the environment', () => {
  it('lets LOOPGATE_PORT, LOOPGATE_HOST and LOOPGATE_DATABASE_URL override the defaults', () => {
    const c = loadConfig({
      env: { LOOPGATE_PORT: '8080', LOOPGATE_HOST: '0.0.0.0', LOOPGATE_DATABASE_URL: 'postgres://db/loopgate' },
    });
    expect(c.server.port).toBe(8080);
    expect(c.server.host).toBe('0.0.0.0');
    expect(c.database.url).toBe('postgres://db/loopgate');
  });

  it('accepts derived names such as LOOPGATE_RISK_WEIGHTS_DEVICE', () => {
    const c = loadConfig({ env: { LOOPGATE_RISK_WEIGHTS_DEVICE: '2.5' } });
    expect(c.risk.weights.device).toBe(2.5);
    // the siblings keep their defaults
    expect(c.risk.weights.network).toBe(1);
  });

  it('parses booleans, lists and enums from strings', () => {
    const c = loadConfig({
      env: {
        LOOPGATE_SERVER_TRUST_PROXY: 'yes',
        LOOPGATE_POLICY_WATCH: 'off',
        LOOPGATE_GEOIP_CITY_DATABASES: 'a.mmdb, b.mmdb,',
        LOOPGATE_LOG_LEVEL: 'debug',
        LOOPGATE_RISK_LEARN_MAX_LEVEL: 'medium',
      },
    });
    expect(c.server.trust_proxy).toBe(true);
    expect(c.policy.watch).toBe(false);
    expect(c.geoip.city_databases).toEqual(['a.mmdb', 'b.mmdb']);
    expect(c.log.level).toBe('debug');
    expect(c.risk.learn_max_level).toBe('medium');
  });

  it('ignores empty variables', () => {
    expect(loadConfig({ env: { LOOPGATE_PORT: '' } }).server.port).toBe(7470);
  });

  it('lets explicit overrides win over the environment', () => {
    const c = loadConfig({ env: { LOOPGATE_PORT: '8080' }, overrides: { 'server.port': 9090, 'risk.alpha': 2 } });
    expect(c.server.port).toBe(9090);
    expect(c.risk.alpha).toBe(2);
  });
});

describe('loadConfig errors', () => {
  it('reports every bad value in one LOOPGATE_ERR_CONFIG_INVALID error, naming the variable', () => {
    const e = failure({
      env: {
        LOOPGATE_PORT: 'abc',
        LOOPGATE_SERVER_TRUST_PROXY: 'maybe',
        LOOPGATE_DATABASE_POOL_SIZE: '1000',
        LOOPGATE_RISK_ALPHA: '-1',
        LOOPGATE_LOG_LEVEL: 'loud',
      },
    });
    expect(e).toBeInstanceOf(LoopgateError);
    expect(e.code).toBe('LOOPGATE_ERR_CONFIG_INVALID');
    expect(e.status).toBe(500);
    expect(e.message.split('\n')[0]).toBe('invalid configuration:');
    expect(problems(e)).toEqual([
      'LOOPGATE_PORT="abc": must be a number',
      'LOOPGATE_SERVER_TRUST_PROXY="maybe": must be true or false',
      'LOOPGATE_DATABASE_POOL_SIZE must be <= 100',
      'LOOPGATE_RISK_ALPHA must be > 0',
      'LOOPGATE_LOG_LEVEL must be one of: fatal, error, warn, info, debug, trace, silent',
    ]);
  });

  it('names the variable for a value out of range', () => {
    expect(problems(failure({ env: { LOOPGATE_PORT: '70000' } }))).toEqual(['LOOPGATE_PORT must be <= 65535']);
    expect(problems(failure({ env: { LOOPGATE_PORT: '80.5' } }))).toEqual(['LOOPGATE_PORT must be an integer']);
  });

  it('reports unknown keys in a config file with the file name', () => {
    const path = file('unknown.yaml', 'server:\n  prot: 8080\nfeatures: {}\n');
    const list = problems(failure({ env: {}, file: path }));
    expect(list).toHaveLength(2);
    expect(list).toContain(`${path}: server.prot is not a known setting`);
    expect(list).toContain(`${path}: features is not a known setting`);
  });

  it('reads settings from a YAML file, with the environment on top', () => {
    const path = file('ok.yaml', 'server:\n  port: 8081\nrisk:\n  alpha: 3\n');
    const c = loadConfig({ env: { LOOPGATE_RISK_ALPHA: '4' }, file: path });
    expect(c.server.port).toBe(8081);
    expect(c.risk.alpha).toBe(4);
  });

  it('reports a file that is not a mapping', () => {
    const path = file('list.yaml', '- a\n- b\n');
    expect(problems(failure({ env: {}, file: path }))).toEqual([`${path}: must contain a mapping of settings`]);
  });

  it('reports a missing file', () => {
    const path = join(dir, 'missing.yaml');
    const list = problems(failure({ env: {}, file: path }));
    expect(list).toHaveLength(1);
    expect(list[0]!.startsWith(`${path}: `)).toBe(true);
    expect(list[0]).toContain('ENOENT');
  });

  it('requires the risk levels to be increasing', () => {
    const e = failure({ env: { LOOPGATE_RISK_LEVELS_MEDIUM: '0.8' } }); // 0.8 ≥ high 0.7
    expect(e.code).toBe('LOOPGATE_ERR_CONFIG_INVALID');
    expect(problems(e)).toEqual(['risk.levels must satisfy medium < high < critical']);
    expect(problems(failure({ env: { LOOPGATE_RISK_LEVELS_HIGH: '0.95' } }))).toEqual([
      'risk.levels must satisfy medium < high < critical', // high = critical is not increasing
    ]);
    const path = file('levels.yaml', 'risk:\n  levels:\n    medium: 0.1\n    high: 0.2\n    critical: 0.3\n');
    expect(loadConfig({ env: {}, file: path }).risk.levels).toEqual({ medium: 0.1, high: 0.2, critical: 0.3 });
  });
});

describe('listSettings', () => {
  const settings = listSettings();

  it('gives every setting a unique environment variable', () => {
    const names = settings.map((s) => s.env);
    expect(new Set(names).size).toBe(names.length);
    for (const n of names) expect(n).toMatch(/^LOOPGATE_[A-Z0-9_]+$/);
  });

  it('uses the alias where one is declared and LOOPGATE_<PATH> otherwise', () => {
    const env = (path: string) => settings.find((s) => s.path.join('.') === path)?.env;
    expect(env('server.port')).toBe('LOOPGATE_PORT');
    expect(env('server.host')).toBe('LOOPGATE_HOST');
    expect(env('database.url')).toBe('LOOPGATE_DATABASE_URL');
    expect(env('policy.directory')).toBe('LOOPGATE_POLICY_DIR');
    expect(env('risk.weights.device')).toBe('LOOPGATE_RISK_WEIGHTS_DEVICE');
    expect(env('risk.velocity.max_keys')).toBe('LOOPGATE_RISK_VELOCITY_MAX_KEYS');
  });

  it('lists leaves only', () => {
    const paths = settings.map((s) => s.path.join('.'));
    expect(paths).toContain('risk.levels.medium');
    expect(paths).not.toContain('risk.levels');
    expect(paths).not.toContain('server');
  });

  it('routes a derived variable to its path', () => {
    const c = loadConfig({ env: { LOOPGATE_RISK_VELOCITY_MAX_KEYS: '500', LOOPGATE_SERVER_BODY_LIMIT: '2048' } });
    expect(c.risk.velocity.max_keys).toBe(500);
    expect(c.server.body_limit).toBe(2048);
  });
});
