/**
 * One integration suite, both stores: every store-backed test runs against a fresh SQLite file and a fresh
 * PostgreSQL database. PostgreSQL is required; set LOOPGATE_TEST_POSTGRES_URL to point elsewhere than the
 * local default. A missing PostgreSQL fails the suite loudly rather than skipping it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const STORES = ['sqlite', 'postgres'] as const;
export type StoreKind = (typeof STORES)[number];

export const POSTGRES_ADMIN_URL = process.env.LOOPGATE_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestDatabase {
  kind: StoreKind;
  url: string;
  /** The audit signing key's directory, kept with the database (a reopened database finds its key). */
  keyDirectory: string;
  drop(): Promise<void>;
}

export async function createTestDatabase(kind: StoreKind): Promise<TestDatabase> {
  if (kind === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'loopgate-test-'));
    return {
      kind,
      url: join(dir, 'loopgate.db'),
      keyDirectory: join(dir, 'keys'),
      drop: async () => rmSync(dir, { recursive: true, force: true }),
    };
  }
  const name = `loopgate_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
  try {
    await admin.connect();
  } catch (e) {
    throw new Error(
      `PostgreSQL is not reachable at ${POSTGRES_ADMIN_URL} (${(e as Error).message}). The integration suite runs on both stores; start PostgreSQL or set LOOPGATE_TEST_POSTGRES_URL.`,
    );
  }
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(POSTGRES_ADMIN_URL);
  url.pathname = `/${name}`;
  const keys = mkdtempSync(join(tmpdir(), 'loopgate-keys-'));
  return {
    kind,
    url: url.toString(),
    keyDirectory: keys,
    drop: async () => {
      rmSync(keys, { recursive: true, force: true });
      const c = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}
