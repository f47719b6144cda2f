/**
 * `loopgate demo`, run in-process as the command runs it: a fresh SQLite database in a temporary directory, the
 * sample reviewers created and enrolled through the HTTP API, history, then a short, fast stream. What the demo
 * prints must be enough to sign in, and the cases it opens must reach the reviewers they are meant for.
 */
import { existsSync, rmSync } from 'node:fs';
import { generate } from 'otplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDemo, type DemoHandle, type DemoReviewer } from '../../src/cli/commands/demo.js';

const EVENTS = 24;

describe('loopgate demo', () => {
  let demo: DemoHandle;
  const lines: string[] = [];
  const printed = () => lines.join('\n');

  beforeAll(async () => {
    // Every demo event carries its location, so the IP databases (a second and 200 MB to load) are not needed.
    demo = await runDemo({ port: 0, rate: 50, events: EVENTS, seed: 1, print: (line) => lines.push(line), overrides: { 'geoip.enabled': false } });
    await demo.streamed;
  });

  afterAll(async () => {
    if (demo === undefined) return;
    await demo.stop();
    rmSync(demo.directory, { recursive: true, force: true });
  });

  const call = async (method: string, path: string, token?: string, body?: unknown) => {
    const headers: Record<string, string> = {};
    if (token !== undefined) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${demo.url}${path}`, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    return { status: res.status, body: (await res.json().catch(() => undefined)) as any };
  };

  /** Signs in as a person does in the console: the printed password, then a code from the printed secret. */
  const signIn = async (r: DemoReviewer): Promise<string> => {
    const password = await call('POST', '/v1/auth/password', undefined, { id: r.id, password: r.password });
    expect(password.status, JSON.stringify(password.body)).toBe(201);
    expect(password.body.state).toBe('mfa_pending');
    const token = password.body.token as string;
    const totp = await call('POST', '/v1/auth/totp', token, { code: await generate({ secret: r.totpSecret }) });
    expect(totp.status, JSON.stringify(totp.body)).toBe(200);
    return token;
  };

  // A code is accepted once per 30-second step: each reviewer signs in once, and later tests reuse the session.
  const sessions = new Map<string, string>();
  const session = async (id: string): Promise<string> => {
    const known = sessions.get(id);
    if (known !== undefined) return known;
    const token = await signIn(demo.reviewers.find((r) => r.id === id)!);
    sessions.set(id, token);
    return token;
  };

  it('works in a new temporary directory and prints where, the console URL and the PEP key', () => {
    expect(demo.directory).toMatch(/loopgate-demo-/);
    expect(existsSync(demo.database)).toBe(true);
    expect(existsSync(`${demo.directory}/keys/checkpoint.key`)).toBe(true);
    const port = new URL(demo.url).port;
    expect(demo.consoleUrl).toBe(`http://localhost:${port}/`);
    expect(printed()).toContain(demo.directory);
    expect(printed()).toContain(demo.consoleUrl);
    expect(demo.pepKey).toMatch(/^lgk_/);
    expect(printed()).toContain(demo.pepKey);
    expect(printed()).toContain('--seed 1');
  });

  it('prints each reviewer once: account, roles, password, TOTP secret and otpauth:// URI', () => {
    expect(demo.reviewers.map((r) => [r.id, r.roles, r.attributes])).toEqual([
      ['ada', ['admin', 'auditor'], {}],
      ['sam', ['security_analyst'], { region: 'EU' }],
      ['kim', ['security_analyst'], { region: 'US' }],
      ['fay', ['fraud_analyst'], {}],
      ['ivy', ['iam_admin'], {}],
      ['mona', ['manager'], {}],
    ]);
    for (const r of demo.reviewers) {
      expect(r.password.length).toBeGreaterThanOrEqual(12);
      expect(r.otpauthUri).toMatch(new RegExp(`^otpauth://totp/.*${r.id}.*secret=${r.totpSecret}`));
      const text = printed();
      expect(text.split(r.password)).toHaveLength(2);
      expect(text).toContain(r.totpSecret);
      expect(text).toContain(r.otpauthUri);
    }
    // Passwords are random, not derived from the seed.
    expect(new Set(demo.reviewers.map((r) => r.password)).size).toBe(demo.reviewers.length);
  });

  it('every printed reviewer signs in with the password and a code from the printed secret', async () => {
    for (const r of demo.reviewers) {
      const token = await session(r.id);
      const me = await call('GET', '/v1/me', token);
      expect(me.status).toBe(200);
      expect(me.body.principal).toMatchObject({ id: r.id, kind: 'human', attributes: r.attributes });
      expect(me.body.roles.map((b: { role: string }) => b.role).sort()).toEqual([...r.roles].sort());
      expect(me.body.session).toMatchObject({ acr: 'urn:loopgate:acr:aal2', amr: ['pwd', 'otp'] });
      expect(me.body.factors).toEqual(['totp']);
    }
  });

  it('streams decisions of every outcome, one printed line each, and the first review comes early', () => {
    expect(demo.decisions).toHaveLength(EVENTS);
    const outcomes = new Set(demo.decisions.map((d) => d.outcome));
    expect([...outcomes].sort()).toEqual(['allow', 'challenge', 'deny', 'review']);
    for (const d of demo.decisions) {
      const line = lines.find((l) => l.includes(d.note) && l.includes(` ${d.subject} `) && l.includes(d.outcome));
      expect(line, `no line for ${d.type} ${d.subject} ${d.outcome}`).toBeDefined();
      expect(line).toMatch(/^\d\d:\d\d:\d\d {2}/);
      expect(line).toContain(d.level);
    }
    // A risky sign-in is the third event: at the default pace, within ten seconds of the stream starting.
    expect(demo.decisions.findIndex((d) => d.route === 'security-review')).toBeLessThan(3);
    const routes = new Set(demo.decisions.flatMap((d) => (d.route === undefined ? [] : [d.route])));
    expect([...routes].sort()).toEqual(['fraud-review', 'iam-approval', 'manager-approval', 'privileged-change', 'security-review']);
    // The credential-stuffing bursts (six failed passwords each from one address) are denied.
    const stuffing = demo.decisions.filter((d) => d.note.startsWith('credential stuffing'));
    expect(stuffing.length).toBeGreaterThanOrEqual(6);
    expect(new Set(stuffing.map((d) => d.outcome))).toEqual(new Set(['deny']));
  });

  it('the EU security analyst sees the EU risky sign-in in her queue; the US analyst does not', async () => {
    const sam = await session('sam');
    const cases = await call('GET', '/v1/cases?status=open', sam);
    expect(cases.status).toBe(200);
    const security = (cases.body.cases as Array<Record<string, any>>).filter((c) => c.route === 'security-review');
    expect(security.length).toBeGreaterThanOrEqual(1);
    const aliceCase = security.find((c) => c.subject.id === 'alice');
    expect(aliceCase, JSON.stringify(cases.body.cases)).toBeDefined();
    const view = await call('GET', `/v1/cases/${aliceCase!.id}`, sam);
    expect(view.status).toBe(200);
    expect(view.body).toMatchObject({ status: 'open', route: { name: 'security-review' }, you: { can_decide: true } });
    expect(view.body.risk.reasons.map((r: { sentence: string }) => r.sentence)).toContainEqual(expect.stringMatching(/^device alice-device-\d+ never seen for alice/));
    // Someone else typed alice's password: the reason says so, against her enrolled entries, and counts.
    const typing = (view.body.risk.reasons as Array<{ signal: string; contribution: number; sentence: string }>).find((r) => r.signal === 'typing_rhythm' && r.sentence.includes('on password'));
    expect(typing?.sentence).toMatch(/^typing rhythm on password \d+\.\d deviations from alice's usual \(20 trusted entries, positions only\)$/);
    expect(typing!.contribution).toBeGreaterThan(0);
    expect(view.body.baseline.behaviour.fields).toContainEqual({ field: 'password', secret: true, entries: 20 });

    const kim = await session('kim');
    expect((await call('GET', `/v1/cases/${aliceCase!.id}`, kim)).status).toBe(404);
  });

  it('keeps no setup credential: the in-process admin key is revoked', async () => {
    const ada = await session('ada');
    const keys = await call('GET', '/v1/api-keys', ada);
    expect(keys.status).toBe(200);
    const byPrincipal = new Map((keys.body.api_keys as Array<{ principal_id: string; revoked_at: string | null }>).map((k) => [k.principal_id, k]));
    expect(byPrincipal.get('demo-setup')?.revoked_at).not.toBeNull();
    expect(byPrincipal.get('pep')?.revoked_at).toBeNull();
    expect((await call('GET', '/v1/me', demo.pepKey)).body.roles.map((b: { role: string }) => b.role)).toEqual(['pep']);
  });

  it('stop() ends the stream and shuts the server down', async () => {
    await demo.stop();
    expect(demo.server.loopgate.isReady()).toBe(false);
    await expect(fetch(`${demo.url}/healthz`)).rejects.toThrow();
    await demo.stop(); // idempotent
  });
});
