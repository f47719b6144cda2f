import { openStore } from '../../store/open.js';
import { configFrom, type CommonOptions } from './shared.js';

export async function runMigrate(options: CommonOptions): Promise<void> {
  const config = configFrom(options);
  const store = openStore({ url: config.database.url, poolSize: 1 });
  try {
    const { applied } = await store.migrate();
    process.stdout.write(
      applied.length === 0 ? `${store.location}: schema is up to date\n` : `${store.location}: applied ${applied.join(', ')}\n`,
    );
  } finally {
    await store.close();
  }
}
