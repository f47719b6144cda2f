/**
 * Shared pieces of the security suite: problem+json assertions, a snapshot of everything a refused request must
 * leave untouched (the case row, verdicts, labels, the decision, the case's audit trail), custom policy bundles in
 * a temporary directory, and the events that open cases on the shipped bundle's routes.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { LightMyRequestResponse } from 'fastify';
import { generate } from 'otplib';
import { iso, T0, type TestLoopgate } from '../helpers/app.js';

/** The answer is an RFC 9457 problem with this status and Loopgate error code. */
export function expectProblem(res: LightMyRequestResponse, status: number, code: string): void {
  expect(res.statusCode, res.body).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(res.json()).toMatchObject({ status, code });
}

/** Everything about a case that a refused request must not change. */
export async function caseState(t: TestLoopgate, caseId: string) {
  const db = t.lg.store.db;
  const row = await db
    .selectFrom('cases')
    .select(['status', 'version', 'claimed_by', 'lease_until', 'outcome', 'closed_at', 'escalations', 'decision_id'])
    .where('id', '=', caseId)
    .executeTakeFirstOrThrow();
  const verdicts = await db.selectFrom('verdicts').select(['id', 'reviewer_id', 'role', 'verdict']).where('case_id', '=', caseId).orderBy('created_at').orderBy('id').execute();
  const labels = await db.selectFrom('labels').select(['id', 'label']).where('case_id', '=', caseId).orderBy('created_at').orderBy('id').execute();
  const decision = await db.selectFrom('decisions').select(['status', 'body']).where('id', '=', row.decision_id).executeTakeFirstOrThrow();
  const audit = await auditActions(t, caseId);
  return { ...row, lease_until: row.lease_until === null ? null : Number(row.lease_until), verdicts, labels, decision: { status: decision.status, body: decision.body }, audit };
}

export type CaseState = Awaited<ReturnType<typeof caseState>>;

/** The actions of the case's audit trail, read through the API (GET /v1/audit/search?case=…), oldest first. */
export async function auditActions(t: TestLoopgate, caseId: string, action?: string): Promise<string[]> {
  const res = await t.get(`/v1/audit/search?case=${caseId}&limit=1000${action === undefined ? '' : `&action=${encodeURIComponent(action)}`}`);
  expect(res.statusCode, res.body).toBe(200);
  return (res.json().entries as Array<{ entry: { action: string } }>).map((e) => e.entry.action);
}

/**
 * Asserts that nothing about the case changed since `before` (row, verdicts, labels, decision, audit trail), and,
 * for a case without verdicts, that the audit log holds no case.verdict entry for it.
 */
export async function expectUnchanged(t: TestLoopgate, caseId: string, before: CaseState): Promise<void> {
  expect(await caseState(t, caseId)).toEqual(before);
  if (before.verdicts.length === 0) expect(await auditActions(t, caseId, 'case.verdict')).toEqual([]);
}

/** A policy bundle in a fresh temporary directory (file name → YAML); remove it with the returned function. */
export function policyBundle(files: Record<string, string>): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'loopgate-policy-'));
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A payment the shipped bundle always sends to fraud-review (fraud analysts, AAL2 within 15 minutes). */
export function largePayment(subject: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { type: 'transaction', subject: { id: subject }, time: iso(T0), context: { ip: '81.2.69.170' }, amount: 25000, currency: 'EUR', payee: { id: 'acme' }, ...extra };
}

/** A session signal the shipped bundle always sends to security-review (security analysts of the subject's region). */
export function mediumSignal(subject: Record<string, unknown>): Record<string, unknown> {
  return { type: 'session.signal', subject, time: iso(T0), signal: { kind: 'risk-level-change', source: 'idp', level: 'medium' } };
}

/** A six-digit code that is not valid for this secret now or one step back (a guess that cannot succeed by luck). */
export async function wrongCode(secret: string, ms: number): Promise<string> {
  const valid = new Set([await generate({ secret, epoch: Math.floor(ms / 1000) }), await generate({ secret, epoch: Math.floor(ms / 1000) - 30 })]);
  for (let n = 123456; ; n = (n + 1) % 1_000_000) {
    const code = String(n).padStart(6, '0');
    if (!valid.has(code)) return code;
  }
}
