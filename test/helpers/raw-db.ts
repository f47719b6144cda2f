/**
 * A connection to a test database that bypasses Loopgate, as someone with database access would have: used to
 * tamper with the audit log and to inject failures. Placeholders are written `?` for both stores.
 */
import { createRequire } from 'node:module';
import pg from 'pg';
import type { TestDatabase } from './stores.js';

export interface RawDb {
  kind: TestDatabase['kind'];
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  run(sql: string, params?: unknown[]): Promise<void>;
  close(): Promise<void>;
}

export async function openRaw(db: TestDatabase): Promise<RawDb> {
  if (db.kind === 'sqlite') {
    const Sqlite = createRequire(import.meta.url)('better-sqlite3') as typeof import('better-sqlite3');
    const conn = new Sqlite(db.url);
    conn.pragma('busy_timeout = 5000');
    return {
      kind: 'sqlite',
      query: async <T>(sql: string, params: unknown[] = []) => conn.prepare(sql).all(...params) as T[],
      run: async (sql, params = []) => {
        if (params.length === 0) conn.exec(sql);
        else conn.prepare(sql).run(...params);
      },
      close: async () => conn.close(),
    };
  }
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  const numbered = (sql: string) => {
    let i = 0;
    return sql.replace(/\?/g, () => `$${++i}`);
  };
  return {
    kind: 'postgres',
    query: async <T>(sql: string, params: unknown[] = []) => (await client.query(numbered(sql), params)).rows as T[],
    run: async (sql, params = []) => {
      await client.query(numbered(sql), params);
    },
    close: () => client.end(),
  };
}

/** What an attacker with the right to change the schema does first: remove the audit tables' guards. */
export async function dropAuditGuards(raw: RawDb): Promise<void> {
  if (raw.kind === 'postgres') {
    await raw.run('DROP FUNCTION loopgate_audit_guard() CASCADE');
    return;
  }
  const triggers = await raw.query<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name LIKE 'audit_%'");
  for (const t of triggers) await raw.run(`DROP TRIGGER ${t.name}`);
}
