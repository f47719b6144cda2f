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
}
