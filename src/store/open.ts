import { PostgresStore } from './postgres.js';
import { SqliteStore } from './sqlite.js';
import type { Store } from './store.js';

export interface StoreOptions {
  /** An SQLite file path (or `sqlite:` URL) or a `postgres://` / `postgresql://` URL. */
  url: string;
  poolSize: number;
}

export function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:\/\//i.test(url);
}

export function openStore(options: StoreOptions): Store {
  if (isPostgresUrl(options.url)) return PostgresStore.open(options.url, { poolSize: options.poolSize });
  const path = options.url.replace(/^sqlite:(\/\/)?/i, '');
  return SqliteStore.open(path);
}
