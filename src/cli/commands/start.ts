import { handleSignals, startServer } from '../../server.js';
import { configFrom, type CommonOptions } from './shared.js';

export async function runStart(options: CommonOptions & { host?: string; port?: number }): Promise<void> {
  const overrides: Record<string, unknown> = {};
  if (options.host !== undefined) overrides['server.host'] = options.host;
  if (options.port !== undefined) overrides['server.port'] = options.port;
  const config = configFrom(options, overrides);
  const server = await startServer(config);
  handleSignals(server);
  const publicPart = server.publicUrl === server.url ? '' : `, public URL ${server.publicUrl}`;
  process.stderr.write(`Loopgate is listening on ${server.url} (database: ${server.loopgate.store.location}${publicPart})\n`);
  // First start: nobody can sign in yet. A one-time code (a new one at every start until it is used) creates the
  // first admin; only its hash is stored.
  const code = await server.loopgate.auth.issueSetupCode();
  if (code !== undefined) {
    process.stderr.write(
      `\nNo admin exists yet. Create the first one within ${server.loopgate.config.auth.setup_code_ttl_minutes} minutes with this one-time code:\n` +
        `  setup code: ${code}\n` +
        `  console:    ${server.publicUrl}/#/?setup_code=${encodeURIComponent(code)}\n` +
        `  API:        curl -X POST ${server.publicUrl}/v1/setup -H 'content-type: application/json' \\\n` +
        `                -d '{"code":"${code}","id":"admin","password":"<at least 12 characters>"}'\n\n`,
    );
  }
}
