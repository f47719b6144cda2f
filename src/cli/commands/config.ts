import { listSettings } from '../../config/load.js';
import { configFrom, type CommonOptions } from './shared.js';

export async function runConfigPrint(options: CommonOptions & { env?: boolean }): Promise<void> {
  if (options.env === true) {
    for (const s of listSettings()) {
      const d = s.schema.default === undefined ? '' : ` (default ${JSON.stringify(s.schema.default)})`;
      process.stdout.write(`${s.env.padEnd(44)} ${s.path.join('.')}${d}\n`);
    }
    return;
  }
  const config = configFrom(options);
  const shown = structuredClone(config);
  // A database URL may carry a password.
  shown.database.url = shown.database.url.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:***@');
  process.stdout.write(`${JSON.stringify(shown, null, 2)}\n`);
}
