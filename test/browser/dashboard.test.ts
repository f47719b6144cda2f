/**
 * The console's dashboard (GET /v1/stats/review drawn as tiles and inline SVG charts) and administration screen
 * (principals, API keys, roles, the active policy) in Chromium, against a test Loopgate on a real port; and a plain
 * security analyst, who sees neither link and gets an explanation at #/dashboard. Needs `npm run build` first.
 * The server's clock is near the real one for the reason given in console.test.ts (the session cookie's Expires).
 */
import { describe, expect, it } from 'vitest';
import { buildHistory, FIREFOX_LINUX, login } from '../helpers/app.js';
import { caseOf, decide, PASSWORD, reviewer } from '../helpers/reviewers.js';
import { consoleHarness, HOUR, shot, signIn, TEST_TIMEOUT, visible } from './support.js';

describe('dashboard and administration in Chromium', () => {
  const harness = consoleHarness();
  const { problems } = harness;
  const start = () => harness.start();

  it(
    'an admin and auditor sees the dashboard’s figures and charts, creates a principal and an API key',
    async () => {
      const { t, base, page } = await start();
      const t0 = t.clock.now();
      const ada = await reviewer(t, 'ada', ['admin', 'auditor']);
      await buildHistory(t, 'alice', 30, t0);
      const d = await decide(t, login('alice', t0 - HOUR / 2, { user_agent: FIREFOX_LINUX, device_id: 'alice-new-laptop' }, { subject: { id: 'alice', region: 'EU' } }));
      expect(d.outcome).toBe('review');
      await caseOf(t, d.id);
      const stats = (await t.get('/v1/stats/review?window=24h')).json();
      expect(stats.queue.open).toBe(1);

      await page.goto(base);
      await signIn(page, t, ada);
      const nav = page.getByRole('navigation', { name: 'Main' });
      await nav.getByRole('link', { name: 'Dashboard' }).click();
      await visible(page.getByRole('heading', { name: 'Dashboard' }));
      expect(await (await visible(page.getByTestId('tile-open'))).textContent()).toBe('1');
      expect(await page.getByTestId('tile-overdue').textContent()).toBe('0');
      expect(await page.getByTestId('tile-overrides').textContent()).toBe('—');
      const decisions = page.getByTestId('chart-decisions');
      expect(await decisions.locator('rect[data-series="review"]').count()).toBeGreaterThan(0);
      expect(await decisions.locator('rect[data-series="allow"]').count()).toBeGreaterThan(0);
      expect(await decisions.locator('rect[data-series="deny"]').count()).toBe(0);
      const allow = await decisions.locator('rect[data-series="allow"]').evaluateAll((rs) => rs.reduce((s, r) => s + Number(r.getAttribute('data-value')), 0));
      expect(allow).toBe(stats.decisions.reduce((s: number, b: { allow: number }) => s + b.allow, 0));
      expect(await decisions.locator('svg[role="img"] > title').textContent()).toMatch(/^Decisions by outcome: 31 in all \(allow \d+, challenge \d+, review 1, deny 0\)/);
      expect(await page.getByTestId('chart-age').locator('rect[data-bar]').count()).toBe(1);
      await visible(page.getByTestId('chart-labels').getByText('No verdicts in this window.'));
      // Another window: the address keeps it.
      await page.getByLabel('Window', { exact: true }).selectOption('7d');
      await page.waitForURL('**/#/dashboard?window=7d');
      await visible(page.getByTestId('tile-open'));
      expect(await page.getByTestId('tile-open').textContent()).toBe('1');
      await shot(page, 'dashboard');

      await nav.getByRole('link', { name: 'Admin' }).click();
      await visible(page.getByRole('heading', { name: 'Administration' }));
      await visible(page.locator('tr[data-principal-id="ada"]'));
      await visible(page.getByTestId('policy-version'));
      // A password that is too short: the problem's field errors are shown.
      await page.locator('#np-id').fill('bob');
      await page.locator('#np-name').fill('Bob Example');
      await page.locator('#np-password').fill('short');
      await page.locator('#np-role-0').selectOption('security_analyst');
      await page.locator('#np-cond-0').fill('case.subject.region == "EU"');
      await page.getByRole('button', { name: 'Create principal' }).click();
      expect(await (await visible(page.getByTestId('field-errors'))).textContent()).toContain('password: must be at least 12 characters');
      await page.locator('#np-password').fill(PASSWORD);
      await page.getByRole('button', { name: 'Create principal' }).click();
      await visible(page.getByText('Created bob.'));
      const bob = await visible(page.locator('tr[data-principal-id="bob"]'));
      expect(await bob.textContent()).toMatch(/bob.*human.*Bob Example.*security_analyst when case\.subject\.region == "EU".*active/);

      await page.locator('#nk-principal').selectOption('bob');
      await page.locator('#nk-label').fill('bob script');
      await page.getByRole('checkbox', { name: 'security_analyst' }).check();
      await page.getByRole('button', { name: 'Create API key' }).click();
      const secret = await (await visible(page.getByTestId('new-api-key-secret'))).textContent();
      expect(secret?.length).toBeGreaterThan(20);
      const keys = (await t.get('/v1/api-keys')).json().api_keys as Array<{ id: string; label: string }>;
      const key = keys.find((k) => k.label === 'bob script')!;
      expect(key).toBeDefined();
      await visible(page.locator(`tr[data-key-id="${key.id}"]`));
      await shot(page, 'admin');
      // Shown once: once dismissed, the secret is nowhere on the page.
      await page.getByRole('button', { name: 'I have copied it' }).click();
      expect(await page.getByTestId('new-api-key').count()).toBe(0);
      expect(await page.getByText(secret!).count()).toBe(0);
      // The key works, then is revoked from the list.
      expect((await t.app.inject({ method: 'GET', url: '/v1/me', headers: { authorization: `Bearer ${secret}` } })).statusCode).toBe(200);
      page.once('dialog', (dialog) => void dialog.accept());
      await page.getByRole('button', { name: `Revoke key ${key.id}` }).click();
      await visible(page.locator(`tr[data-key-id="${key.id}"]`).getByText('revoked'));
      expect((await t.app.inject({ method: 'GET', url: '/v1/me', headers: { authorization: `Bearer ${secret}` } })).statusCode).toBe(401);
      expect(problems).toEqual([]);
    },
    TEST_TIMEOUT,
  );

  it(
    'an admin adds a scoped role binding (an invalid condition is refused), removes one, and defines a role',
    async () => {
      const { t, base, page } = await start();
      const ada = await reviewer(t, 'ada', ['admin']);
      await reviewer(t, 'kim', ['security_analyst'], { region: 'US' });
      type Binding = { id: string; role: string; condition: string | null; expires_at: string | null };
      const bindingsOf = async (id: string): Promise<Binding[]> => (await t.get(`/v1/principals/${id}`)).json().roles as Binding[];
      const before = await bindingsOf('kim');
      expect(before.map((b) => b.role)).toEqual(['security_analyst']);

      await page.goto(base);
      await signIn(page, t, ada);
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Admin' }).click();
      await visible(page.getByRole('heading', { name: 'Administration' }));
      const kim = await visible(page.locator('tr[data-principal-id="kim"]'));

      // An invalid condition: the server's field error is shown by the form, and nothing is added.
      await kim.locator('details.add-binding > summary').click();
      await kim.getByLabel('Role', { exact: true }).selectOption('fraud_analyst');
      await kim.getByLabel('Scope condition (CEL, optional)').fill('case.subject.region ==');
      await kim.locator('form.binding-form button[type="submit"]').click();
      expect(await (await visible(kim.getByTestId('field-errors'))).textContent()).toMatch(/\/condition: not a valid CEL condition/);
      expect((await bindingsOf('kim')).length).toBe(1);

      // A valid one, with an expiry: listed with its condition (and so through the API).
      await kim.getByLabel('Scope condition (CEL, optional)').fill('case.subject.region == "EU"');
      const expiry = new Date(Date.now() + 30 * 24 * HOUR);
      const local = new Date(expiry.getTime() - expiry.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
      await kim.getByLabel('Expires (optional, your local time)').fill(local);
      await kim.locator('form.binding-form button[type="submit"]').click();
      await visible(kim.locator('li[data-binding-id]').filter({ hasText: 'fraud_analyst' }));
      expect(await kim.locator('li[data-binding-id]').filter({ hasText: 'fraud_analyst' }).textContent()).toMatch(/fraud_analyst when case\.subject\.region == "EU" until/);
      expect(await kim.getByTestId('field-errors').count()).toBe(0);
      const added = (await bindingsOf('kim')).find((b) => b.role === 'fraud_analyst');
      expect(added?.condition).toBe('case.subject.region == "EU"');
      expect(Math.abs(Date.parse(added!.expires_at!) - expiry.getTime())).toBeLessThan(60_000);

      // Remove the unscoped security_analyst binding: a confirmation first, then it is gone (and so through the API).
      page.once('dialog', (dialog) => void dialog.accept());
      await kim.getByRole('button', { name: 'Remove security_analyst from kim' }).click();
      await kim.locator(`li[data-binding-id="${before[0]!.id}"]`).waitFor({ state: 'detached' });
      expect((await bindingsOf('kim')).map((b) => b.role)).toEqual(['fraud_analyst']);

      // Define a role: it joins the roles list (and GET /v1/roles).
      await page.locator('#dr-name').fill('risk_reviewer');
      await page.locator('#dr-description').fill('Reads the policy behind risk decisions.');
      await page.getByRole('checkbox', { name: 'policies:read' }).check();
      await page.getByRole('button', { name: 'Define role' }).click();
      await visible(page.getByText('Defined risk_reviewer.'));
      const row = await visible(page.locator('tr[data-role="risk_reviewer"]'));
      expect(await row.textContent()).toMatch(/risk_reviewer.*Reads the policy behind risk decisions\..*policies:read/);
      const roles = (await t.get('/v1/roles')).json().roles as Array<{ name: string; permissions: string[]; builtin: boolean }>;
      expect(roles.find((r) => r.name === 'risk_reviewer')).toMatchObject({ permissions: ['policies:read'], builtin: false });
      await shot(page, 'admin-roles');
      expect(problems).toEqual([]);
    },
    TEST_TIMEOUT,
  );

  it(
    'a plain security analyst sees neither link and gets an explanation at #/dashboard and #/admin',
    async () => {
      const { t, base, page } = await start();
      await reviewer(t, 'ada', ['admin']);
      const kim = await reviewer(t, 'kim', ['security_analyst'], { region: 'US' });
      await page.goto(base);
      await signIn(page, t, kim);
      const nav = page.getByRole('navigation', { name: 'Main' });
      await visible(nav.getByRole('link', { name: 'Queue' }));
      expect(await nav.getByRole('link', { name: 'Dashboard' }).count()).toBe(0);
      expect(await nav.getByRole('link', { name: 'Admin' }).count()).toBe(0);
      await page.goto(`${base}/#/dashboard`);
      expect(await (await visible(page.getByTestId('dashboard-forbidden'))).textContent()).toContain('cases:read_all');
      await page.goto(`${base}/#/admin`);
      expect(await (await visible(page.getByTestId('admin-forbidden'))).textContent()).toContain('principals:manage');
      expect(problems).toEqual([]);
    },
    TEST_TIMEOUT,
  );
});
