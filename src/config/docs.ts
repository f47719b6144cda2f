/** Renders docs/configuration.md from the schema, so the reference cannot drift from the code. */
import { listSettings } from './load.js';

export function renderConfigReference(): string {
  const rows = listSettings().map((s) => {
    const schema = s.schema as Record<string, unknown>;
    const type = Array.isArray(schema.anyOf)
      ? (schema.anyOf as Array<{ const?: unknown }>).map((o) => JSON.stringify(o.const)).join(' \\| ')
      : String(schema.type ?? 'string') + (schema.type === 'array' ? ' (comma-separated in the environment)' : '');
    const def = schema.default === undefined ? '—' : `\`${JSON.stringify(schema.default)}\``;
    const description = typeof schema.description === 'string' ? schema.description : '';
    return `| \`${s.path.join('.')}\` | \`${s.env}\` | ${type} | ${def} | ${description} |`;
  });
  return `# Configuration reference

<!-- Generated from src/config/schema.ts by \`npm run docs:config\`; a test fails when this file is out of date. -->

Loopgate reads its configuration, later sources winning, from:

1. the defaults below;
2. a file: \`--config FILE\`, else \`LOOPGATE_CONFIG\`, else \`./loopgate.yaml\` when it exists (YAML, or JSON
   when the name ends in \`.json\`), with the same nesting as the setting names (\`server: { port: 8080 }\`);
3. environment variables (\`LOOPGATE_…\`, listed below);
4. command-line flags (\`loopgate start --port 8080\`).

The whole configuration is validated at start; every problem is reported at once, naming the environment
variable or the file key it came from, and the process exits with status 78 (EX_CONFIG). \`loopgate config\`
prints the effective configuration (with any database password masked); \`loopgate config --env\` lists the
variables.

| setting | environment variable | type | default | meaning |
|---|---|---|---|---|
${rows.join('\n')}
`;
}
