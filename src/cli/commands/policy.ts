import { stat } from 'node:fs/promises';
import { loadBundle } from '../../core/policy/load.js';
import { readPolicyDirectory } from '../../services/policies.js';

export async function runPolicyValidate(dir: string, options: { json?: boolean }): Promise<void> {
  const info = await stat(dir).catch(() => undefined);
  if (info === undefined || !info.isDirectory()) {
    process.stderr.write(`${dir}: not a directory\n`);
    process.exitCode = 2;
    return;
  }
  const sources = await readPolicyDirectory(dir);
  const result =
    sources.length === 0
      ? ({ ok: false, errors: [{ file: '.', line: 1, column: 1, message: 'no policy files (*.yaml, *.yml) in this directory' }] } as const)
      : loadBundle(sources);
  if (options.json === true) {
    process.stdout.write(
      `${JSON.stringify(result.ok ? { valid: true, version: result.bundle.version, files: result.bundle.files } : { valid: false, errors: result.errors }, null, 2)}\n`,
    );
  } else if (result.ok) {
    const b = result.bundle;
    const rules = b.policies.reduce((n, p) => n + p.rules.length, 0);
    const count = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;
    process.stdout.write(
      `${dir}: valid — ${count(b.policies.length, 'policy', 'policies')}, ${count(rules, 'rule', 'rules')}, ${count(b.routes.size, 'route', 'routes')}\nversion ${b.version}\n`,
    );
  } else {
    // file:line:column: message — the format editors and CI annotate.
    for (const e of result.errors) process.stdout.write(`${dirPrefix(dir)}${e.file}:${e.line}:${e.column}: ${e.message}\n`);
    process.stdout.write(`${result.errors.length} error(s)\n`);
  }
  if (!result.ok) process.exitCode = 1;
}

function dirPrefix(dir: string): string {
  return dir.endsWith('/') ? dir : `${dir}/`;
}
