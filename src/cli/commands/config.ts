import { listSettings, redactConfig } from '../../config/load.js';
import { configFrom, type CommonOptions } from './shared.js';

export async function runConfigPrint(options: CommonOptions & { env?: boolean }): Promise<void> {
  if (options.env === true) {
    for (const s of listSettings()) {
      const d = s.schema.default === undefined ? '' : ` (default ${JSON.stringify(s.schema.default)})`;
      process.stdout.write(`${s.env.padEnd(44)} ${s.path.join('.')}${d}\n`);
    }
    return;
  }
  // Secrets (the signing key) are shown as "[set]"; a database password is masked.
  process.stdout.write(`${JSON.stringify(redactConfig(configFrom(options)), null, 2)}\n`);
}
