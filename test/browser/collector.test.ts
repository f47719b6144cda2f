/**
 * The browser collector in Chromium: a login page on another origin imports it from Loopgate (`/collector.js`, CORS),
 * a person types an account name and a password and moves the pointer; the payload has the keys of the account
 * field, only positions and timings for the password, the pointer track and the timer precision; posted as a login
 * event's `signals`, it flows through the decision API and is stored with the decision. Then, end to end: a person
 * who signs in a few times enrols a typing profile, and the reasons of the next logins say whether the typing was
 * theirs.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { login, startTestLoopgate, type TestLoopgate } from '../helpers/app.js';
import { openBrowser, type TestBrowser } from '../helpers/browser.js';

const PASSWORD = 'hunter22!';

function loginPage(collectorUrl: string): string {
  return `<!doctype html><html><body>
  <label>Account <input id="account" autocomplete="username"></label>
  <label>Password <input id="password" type="password" autocomplete="current-password"></label>
  <script type="module">
    import { startCollector } from ${JSON.stringify(collectorUrl)};
    window.collector = startCollector({ fields: { account: { element: '#account' }, password: { element: '#password', secret: true } } });
    window.ready = true;
  </script></body></html>`;
}

describe('the browser collector in Chromium', () => {
  let t: TestLoopgate | undefined;
  let site: Server | undefined;
  let browser: TestBrowser | undefined;
  afterEach(async () => {
    await browser?.close();
    await new Promise((r) => (site ? site.close(r) : r(undefined)));
    await t?.close();
    browser = undefined;
    site = undefined;
    t = undefined;
  });

  it('records typing rhythm without the password’s keys, and the pointer; the payload is a login event’s signals', async () => {
    t = await startTestLoopgate({ store: 'sqlite' });
    const loopgate = await t.app.listen({ port: 0, host: '127.0.0.1' });
    const script = await fetch(`${loopgate}/collector.js`);
    expect(script.status).toBe(200);
    expect(script.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(script.headers.get('access-control-allow-origin')).toBe('*');

    // The login page lives on another origin, as a customer's would.
    site = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end(loginPage(`${loopgate}/collector.js`)));
    await new Promise<void>((r) => site!.listen(0, '127.0.0.1', () => r()));
    const page = await (browser = await openBrowser()).context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`http://localhost:${(site.address() as AddressInfo).port}/`);
    await page.waitForFunction(() => (window as unknown as { ready?: boolean }).ready === true);

    await page.mouse.move(20, 20);
    for (let i = 1; i <= 10; i++) await page.mouse.move(20 + i * 15, 20 + i * 8);
    await page.click('#account');
    await page.keyboard.type('alice', { delay: 60 });
    await page.click('#password');
    await page.keyboard.type(PASSWORD, { delay: 90 });
    const payload = (await page.evaluate(() => (window as unknown as { collector: { payload(): unknown } }).collector.payload())) as {
      v: number;
      collector: string;
      timer_resolution_ms: number;
      fields: Record<string, { secret: boolean; keys?: string[]; strokes: Array<[number, number, number]> }>;
      pointer: { events: number[]; viewport: [number, number] };
    };
    expect(errors).toEqual([]);
    expect(payload).toMatchObject({ v: 1, collector: 'loopgate' });
    expect(payload.timer_resolution_ms).toBeGreaterThan(0);

    const account = payload.fields.account!;
    expect(account).toMatchObject({ secret: false, keys: ['a', 'l', 'i', 'c', 'e'] });
    expect(account.strokes.map(([p]) => p)).toEqual([0, 1, 2, 3, 4]);
    for (const [, down, up] of account.strokes) expect(up).toBeGreaterThanOrEqual(down);
    const downs = account.strokes.map(([, d]) => d);
    expect([...downs].sort((a, b) => a - b)).toEqual(downs);
    // Typed with a 60 ms delay between keys: the down-down times show it.
    expect(downs[4]! - downs[0]!).toBeGreaterThanOrEqual(4 * 50);

    const password = payload.fields.password!;
    expect(password.secret).toBe(true);
    expect(password.keys).toBeUndefined();
    expect(password.strokes).toHaveLength(PASSWORD.length);
    expect(password.strokes.map(([p]) => p)).toEqual([...PASSWORD].map((_, i) => i));
    // Nothing about which keys were pressed: no character of the password appears as a string.
    const secretPart = JSON.stringify(password);
    for (const ch of new Set(PASSWORD)) expect(secretPart).not.toContain(`"${ch}"`);

    // The pointer: moves (kind 0) and the two clicks' presses (10 = left down) and releases (20 = left up).
    const kinds = payload.pointer.events.filter((_, i) => i % 4 === 3);
    expect(kinds.filter((k) => k === 0).length).toBeGreaterThanOrEqual(10);
    expect(kinds.filter((k) => k === 10)).toHaveLength(2);
    expect(kinds.filter((k) => k === 20)).toHaveLength(2);
    expect(payload.pointer.viewport[0]).toBeGreaterThan(0);

    // The payload is a login event's signals: accepted by the decision API and kept with the decision.
    const res = await t.post('/v1/decisions', { event: { type: 'login', subject: { id: 'alice' }, context: { ip: '81.2.69.160' }, signals: payload } });
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json().event.signals).toEqual(payload);
    expect(JSON.stringify(payload).length).toBeLessThan(t.config.server.body_limit);
  }, 60_000);

  it('typing in the browser enrols a profile from trusted logins, and the next logins’ reasons say whose typing it was', async () => {
    t = await startTestLoopgate({ store: 'sqlite' });
    const loopgate = await t.app.listen({ port: 0, host: '127.0.0.1' });
    site = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end(loginPage(`${loopgate}/collector.js`)));
    await new Promise<void>((r) => site!.listen(0, '127.0.0.1', () => r()));
    const page = await (browser = await openBrowser()).context.newPage();
    const url = `http://localhost:${(site.address() as AddressInfo).port}/`;

    /** One sign-in: the page is loaded afresh, the account and password are typed with this hold and gap (ms). */
    const signIn = async (holdMs: number, gapMs: number) => {
      await page.goto(url);
      await page.waitForFunction(() => (window as unknown as { ready?: boolean }).ready === true);
      for (const [field, text] of [['#account', 'alice'], ['#password', PASSWORD]] as const) {
        await page.click(field);
        for (const [i, ch] of [...text].entries()) {
          await page.keyboard.down(ch);
          await page.waitForTimeout(holdMs);
          await page.keyboard.up(ch);
          // A rhythm of this person: some key pairs are slower than others.
          await page.waitForTimeout(gapMs * (i % 3 === 2 ? 1.6 : 1));
        }
      }
      const signals = await page.evaluate(() => (window as unknown as { collector: { payload(): unknown } }).collector.payload());
      const res = await t!.post('/v1/decisions', { event: login('alice', Date.parse('2026-06-01T09:00:00Z'), {}, { signals }) });
      expect(res.statusCode, res.body).toBe(201);
      return res.json() as { learned: boolean; risk: { reasons: Array<{ signal: string; contribution: number; sentence: string; detail: { field?: string; deviations?: number } }> } };
    };
    const passwordReason = (d: Awaited<ReturnType<typeof signIn>>) => d.risk.reasons.find((r) => r.signal === 'typing_rhythm' && r.detail.field === 'password')!;

    // Five trusted sign-ins enrol the profile; until then the reason says how far enrolment is.
    for (let i = 0; i < 5; i++) {
      const d = await signIn(70, 120);
      expect(d.learned).toBe(true);
      expect(passwordReason(d).sentence).toBe(`typing rhythm on password not scored: ${i} of 5 trusted entries enrolled for alice`);
    }
    const own = await signIn(70, 120);
    // Real timers on a loaded machine jitter (a busy CI runner stretched a genuine entry to 3.1 deviations once),
    // so the genuine login is compared with the impostor's below rather than held to a fixed bound.
    expect(passwordReason(own).sentence).toMatch(/^typing rhythm on password (as usual for alice \(|\d+\.\d deviations from alice's usual \().*5 trusted entries, positions only\)$/);

    // Someone else types the same password: quick keys, short holds.
    const other = await signIn(25, 45);
    const reason = passwordReason(other);
    expect(reason.sentence).toMatch(/^typing rhythm on password \d+\.\d deviations from alice's usual \(6 trusted entries, positions only\)$/);
    expect(reason.contribution).toBeGreaterThan(0.5);
    expect(reason.contribution).toBeGreaterThan(passwordReason(own).contribution);
    expect(reason.detail.deviations!).toBeGreaterThan(passwordReason(own).detail.deviations! + 3);
  }, 120_000);
});
