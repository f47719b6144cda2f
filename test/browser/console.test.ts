/**
 * The reviewer console in a real browser (Debian's Chromium through playwright-core) against a test Loopgate on
 * SQLite listening on a real port: sign-in with password and TOTP, the live queue, a case, claiming, the step-up
 * prompt, a server-signed verdict, the audit log verified in the browser; passkeys through Chromium's virtual
 * authenticator; scope; a refused step-up. Needs `npm run build` first: the server serves dist/console.
 *
 * The server's clock and the page's origin: see ./support.ts.
 */
import { describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { buildHistory, FIREFOX_LINUX, login, type TestLoopgate } from '../helpers/app.js';
import { caseOf, decide, PASSWORD, reviewer, totpAt, TOTP_STEP_MS } from '../helpers/reviewers.js';
import { consoleHarness, HOUR, shot, signIn, TEST_TIMEOUT, UI_TIMEOUT, visible } from './support.js';

const MINUTE = 60_000;

describe('reviewer console in Chromium', () => {
  const harness = consoleHarness();
  const { problems } = harness;
  const start = () => harness.start();

  /** A human admin, so the first-admin setup is done (the test client is a service). */
  async function withAdmin(t: TestLoopgate): Promise<void> {
    const res = await t.post('/v1/principals', { id: 'ada', password: PASSWORD, roles: [{ role: 'admin' }] });
    expect(res.statusCode, res.body).toBe(201);
  }

  /** Scenario 1 of test/integration/cases.test.ts: 30 ordinary logins (buildHistory), then alice on a new laptop with Firefox on Linux. */
  function riskyLogin(t0: number) {
    return login('alice', t0 - HOUR / 2, { user_agent: FIREFOX_LINUX, device_id: 'alice-new-laptop' }, { subject: { id: 'alice', region: 'EU' } });
  }

  async function fillVerdict(page: Page, reason: string): Promise<void> {
    // The keyboard shortcut `a` chooses approve and moves on to the label.
    await page.locator('h1').first().click();
    await page.keyboard.press('a');
    expect(await page.getByRole('radio', { name: /^approve/ }).isChecked()).toBe(true);
    expect(await page.getByLabel('Label').evaluate((el) => el === document.activeElement)).toBe(true);
    await page.getByLabel('Label').selectOption('confirmed_safe');
    // The machine recommends deny: the form says the reason is required.
    await visible(page.getByText('Required: your verdict differs from the machine’s recommendation'));
    await page.getByLabel(/^Reason/).fill(reason);
    await page.getByRole('button', { name: 'Review and sign…' }).click();
    await visible(page.getByRole('heading', { name: 'You are signing:' }));
    const canonical = JSON.parse((await page.getByTestId('canonical').textContent()) ?? '{}');
    expect(canonical).toMatchObject({ verdict: 'approve', label: 'confirmed_safe', reason });
  }

  it(
    'password + TOTP sign-in, the live queue, a case and its reasons, claim, step-up, approval, the audit entry verified',
    async () => {
      const { t, base, page } = await start();
      const t0 = t.clock.now();
      await withAdmin(t);
      await buildHistory(t, 'alice', 30, t0);
      // An EU security analyst who is also an auditor (to read and verify the audit log afterwards).
      const sam = await reviewer(t, 'sam', ['security_analyst', 'auditor'], { region: 'EU' });

      await page.goto(base);
      await signIn(page, t, sam, 'sign-in');
      await visible(page.getByText('● Live updates on'));

      // The risky login arrives while the queue is open: the event stream brings it in.
      const d = await decide(t, riskyLogin(t0));
      expect(d.outcome).toBe('review');
      const caseId = (await caseOf(t, d.id)).id as string;
      const row = await visible(page.locator(`tr[data-case-id="${caseId}"]`));
      expect(await row.textContent()).toMatch(/alice.*login.*high.*security-review/);
      await shot(page, 'queue');

      // Keyboard: j selects the row, Enter opens it.
      await page.keyboard.press('j');
      await page.keyboard.press('Enter');
      await page.waitForURL(`**/#/cases/${caseId}`);
      await visible(page.getByRole('heading', { name: 'Why the machine asked a person' }));
      await visible(page.getByText(/^device alice-new-laptop never seen for alice/));
      expect(await page.getByTestId('recommendation').textContent()).toBe('deny');
      expect(await page.getByTestId('can-decide').textContent()).toContain('security_analyst');
      const baseline = page.getByRole('table', { name: 'Baseline comparison' });
      expect(await baseline.getByRole('row', { name: /device id/ }).textContent()).toMatch(/alice-new-laptop\s*no\s*0/);
      await visible(page.getByRole('table', { name: 'Timeline' }).getByText('case.opened'));
      await shot(page, 'case');
      await page.setViewportSize({ width: 820, height: 1180 });
      await shot(page, 'case-tablet');
      await page.setViewportSize({ width: 1280, height: 860 });

      // Sam's TOTP proof becomes older than the route's 15 minutes (before claiming: a lease lasts 15 minutes too).
      t.clock.advance(16 * MINUTE);
      await page.getByRole('button', { name: 'Claim', exact: true }).click();
      await visible(page.getByTestId('lease'));

      await fillVerdict(page, 'called alice: new work laptop');
      await page.getByRole('button', { name: 'Submit verdict', exact: true }).click();
      const prompt = page.getByRole('region', { name: 'Step-up required' });
      await visible(prompt);
      expect(await prompt.textContent()).toContain('This needs AAL2 (two factors) or AAL3 (device-bound passkey), proven within the last 15 min.');
      await shot(page, 'step-up');

      t.clock.advance(TOTP_STEP_MS);
      await prompt.getByLabel('Code from your authenticator app').fill(await totpAt(sam.totpSecret, t.clock.now()));
      await prompt.getByRole('button', { name: 'Verify code' }).click();
      await page.getByRole('button', { name: 'Submit verdict again' }).click();

      const result = await visible(page.getByTestId('verdict-result'));
      expect(await result.getByTestId('decision-outcome').textContent()).toMatch(/Decision final: allow/);
      expect(await result.getByTestId('proof-type').textContent()).toBe('server_signature');
      await visible(page.getByRole('table', { name: 'Timeline' }).getByText('decision.resolved'));
      await shot(page, 'result');
      expect((await t.get(`/v1/decisions/${d.id}`)).json()).toMatchObject({ status: 'final', resolution: { outcome: 'allow', by: 'review' } });

      // The audit entries of the case; the verdict's entry verified in the browser against the signed checkpoint.
      await result.getByRole('link', { name: 'Audit entries of this case' }).click();
      await page.waitForURL(`**/#/audit?case=${caseId}`);
      const verdictRow = await visible(page.locator('tr[data-action="case.verdict"]'));
      expect(await verdictRow.textContent()).toContain('called alice: new work laptop');
      await verdictRow.getByRole('button', { name: /^Verify entry/ }).click();
      await visible(verdictRow.getByText('✓ verified'));
      await verdictRow.getByText('checks').click();
      await visible(verdictRow.getByText('checkpoint signed by a trusted key'));
      await shot(page, 'audit');
      expect(problems).toEqual([]);
    },
    TEST_TIMEOUT,
  );

  it(
    'enrols a passkey in Chromium’s virtual authenticator, signs in with it, and signs a verdict with it',
    async () => {
      const { t, base, page, context } = await start();
      const t0 = t.clock.now();
      const cdp = await context.newCDPSession(page);
      await cdp.send('WebAuthn.enable');
      await cdp.send('WebAuthn.addVirtualAuthenticator', {
        options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
      });
      await withAdmin(t);
      await buildHistory(t, 'alice', 30, t0);
      const sam = await reviewer(t, 'sam', ['security_analyst'], { region: 'EU' });
      const d = await decide(t, riskyLogin(t0));
      const caseId = (await caseOf(t, d.id)).id as string;

      await page.goto(base);
      await signIn(page, t, sam);
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Account' }).click();
      await visible(page.getByRole('heading', { name: 'Your account' }));
      expect(await page.getByTestId('session-facts').textContent()).toContain('urn:loopgate:acr:aal2');
      await page.getByLabel('Name for the passkey (optional)').fill('test laptop');
      await page.getByRole('button', { name: 'Add a passkey' }).click();
      await visible(page.getByText('Passkey "test laptop" added (device-bound); this session is now at AAL3 (device-bound passkey).'));
      await visible(page.getByTestId('session-facts').getByText('urn:loopgate:acr:aal3'));
      await shot(page, 'account');
      const stored = await t.lg.store.db.selectFrom('credentials').select(['type', 'label']).where('principal_id', '=', 'sam').where('type', '=', 'webauthn').execute();
      expect(stored).toEqual([{ type: 'webauthn', label: 'test laptop' }]);

      // Sign out, and back in with the passkey alone (usernameless).
      await page.getByRole('button', { name: 'Sign out' }).click();
      await visible(page.getByRole('heading', { name: 'Sign in' }));
      await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
      await visible(page.getByRole('heading', { name: 'Review queue' }));
      expect(await page.getByTestId('signed-in-as').textContent()).toBe('sam');

      await page.locator(`tr[data-case-id="${caseId}"] a.case-link`).click();
      await page.getByRole('button', { name: 'Claim', exact: true }).click();
      await visible(page.getByTestId('lease'));
      await fillVerdict(page, 'called alice: new work laptop');
      await page.getByRole('button', { name: 'Sign with passkey' }).click();

      const result = await visible(page.getByTestId('verdict-result'));
      expect(await result.getByTestId('proof-type').textContent()).toBe('webauthn');
      expect(await result.getByTestId('decision-outcome').textContent()).toMatch(/Decision final: allow/);
      await shot(page, 'result-passkey');

      const verdicts = await t.lg.store.db.selectFrom('verdicts').selectAll().where('case_id', '=', caseId).execute();
      expect(verdicts).toHaveLength(1);
      const body = JSON.parse(verdicts[0]!.body) as { proof: { type: string }; assurance: { acr: string } };
      expect(body.proof.type).toBe('webauthn');
      expect(body.assurance.acr).toBe('urn:loopgate:acr:aal3');
      expect(problems).toEqual([]);
    },
    TEST_TIMEOUT,
  );

  it(
    'a reviewer outside the case’s scope does not see it in the queue, gets "not found" for it, and cannot read the audit log',
    async () => {
      const { t, base, page, context } = await start();
      const t0 = t.clock.now();
      // Before any human admin exists, the sign-in page offers the first-admin setup.
      await page.goto(base);
      await visible(page.getByRole('heading', { name: 'Create the first admin' }));
      await withAdmin(t);
      await buildHistory(t, 'alice', 30, t0);
      const kim = await reviewer(t, 'kim', ['security_analyst'], { region: 'US' });
      const d = await decide(t, riskyLogin(t0));
      const caseId = (await caseOf(t, d.id)).id as string;

      await page.reload();
      await visible(page.getByRole('heading', { name: 'Sign in' }));
      expect(await page.getByRole('heading', { name: 'Create the first admin' }).count()).toBe(0);
      await signIn(page, t, kim);
      await visible(page.getByTestId('queue-empty'));
      expect(await page.locator('tr[data-case-id]').count()).toBe(0);

      await page.goto(`${base}/#/cases/${caseId}`);
      await visible(page.getByRole('heading', { name: 'Case not found' }));
      expect(await page.getByTestId('case-not-found').textContent()).toContain('not shown to you');
      expect(await page.getByText('alice-new-laptop').count()).toBe(0);

      await page.goto(`${base}/#/audit?case=${caseId}`);
      expect(await (await visible(page.getByTestId('audit-forbidden'))).textContent()).toContain('auditor');

      // A second tab shares the cookie; it gets the session's CSRF token from the first tab, so it can act too.
      const second = await context.newPage();
      second.setDefaultTimeout(UI_TIMEOUT);
      await second.goto(`${base}/#/queue`);
      await visible(second.getByTestId('queue-empty'));
      expect(await second.getByText('This tab does not hold your session’s CSRF token').count()).toBe(0);
      await second.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Account' }).click();
      await second.getByRole('button', { name: 'Step up now' }).click();
      t.clock.advance(TOTP_STEP_MS);
      await second.getByLabel('Code from your authenticator app').fill(await totpAt(kim.totpSecret, t.clock.now()));
      await second.getByRole('button', { name: 'Verify code' }).click();
      await visible(second.getByText(/^Stepped up: AAL2/));
      expect(problems).toEqual([]);
    },
    TEST_TIMEOUT,
  );

  it(
    'a refused step-up (wrong code) shows the error and leaves the case claimed and undecided',
    async () => {
      const { t, base, page } = await start();
      const t0 = t.clock.now();
      await withAdmin(t);
      await buildHistory(t, 'alice', 30, t0);
      const sam = await reviewer(t, 'sam', ['security_analyst'], { region: 'EU' });
      const d = await decide(t, riskyLogin(t0));
      const caseId = (await caseOf(t, d.id)).id as string;

      await page.goto(base);
      await signIn(page, t, sam);
      t.clock.advance(16 * MINUTE);
      // Claimed from the queue with the keyboard: j selects the row, c claims it.
      const row = await visible(page.locator(`tr[data-case-id="${caseId}"]`));
      await page.keyboard.press('j');
      await page.keyboard.press('c');
      await visible(page.getByText('You hold the case of alice until'));
      await visible(row.getByRole('cell', { name: 'sam', exact: true }));
      // Then straight to the case by its address (a fresh load: the cookie and the tab's CSRF token carry the session).
      await page.goto(`${base}/#/cases/${caseId}`);
      await page.reload();
      await visible(page.getByTestId('lease'));
      await fillVerdict(page, 'called alice: new work laptop');
      await page.getByRole('button', { name: 'Submit verdict', exact: true }).click();
      const prompt = await visible(page.getByRole('region', { name: 'Step-up required' }));

      t.clock.advance(TOTP_STEP_MS);
      const good = await totpAt(sam.totpSecret, t.clock.now());
      const wrong = String((Number(good) + 500_000) % 1_000_000).padStart(6, '0');
      await prompt.getByLabel('Code from your authenticator app').fill(wrong);
      await prompt.getByRole('button', { name: 'Verify code' }).click();
      const alert = await visible(prompt.getByRole('alert'));
      expect(await alert.textContent()).toMatch(/INVALID_CREDENTIALS/);
      await shot(page, 'step-up-refused');
      expect(await page.getByRole('button', { name: 'Submit verdict again' }).count()).toBe(0);

      expect((await t.get(`/v1/decisions/${d.id}`)).json()).toMatchObject({ status: 'pending' });
      expect((await t.get(`/v1/cases/${caseId}`)).json()).toMatchObject({ status: 'claimed', claimed_by: 'sam', verdicts: [] });
      expect(await t.lg.store.db.selectFrom('verdicts').selectAll().where('case_id', '=', caseId).execute()).toEqual([]);
      expect(problems).toEqual([]);
    },
    TEST_TIMEOUT,
  );
  it(
    'enrols an authenticator app on the account screen: a QR code of the otpauth link, confirmed with a first code',
    async () => {
      const { t, base, page } = await start();
      await withAdmin(t);
      const created = await t.post('/v1/principals', { id: 'nia', password: PASSWORD, roles: [{ role: 'security_analyst' }] });
      expect(created.statusCode, created.body).toBe(201);
      await page.goto(base);
      await visible(page.getByRole('heading', { name: 'Sign in' }));
      await page.locator('#signin-account').fill('nia');
      await page.locator('#signin-password').fill(PASSWORD);
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      await visible(page.getByRole('heading', { name: 'Review queue' }));
      await page.goto(`${base}/#/me`);
      await page.getByRole('button', { name: 'Set up authenticator app' }).click();
      const qr = await visible(page.getByRole('img', { name: 'QR code of the authenticator app link' }));
      // The image is a real PNG the browser decoded, of the size asked for.
      expect(await qr.first().evaluate((img) => (img as HTMLImageElement).naturalWidth)).toBe(200);
      const secret = await page.locator('#totp-secret').inputValue();
      expect(await page.locator('#totp-uri').inputValue()).toContain(`secret=${secret}`);
      await shot(page, 'account-totp');
      await page.locator('#totp-confirm').fill(await totpAt(secret, t.clock.now()));
      await page.locator('#totp-confirm').press('Enter');
      await visible(page.getByText(/AAL2/).first());
      const factors = (await t.get('/v1/principals/nia')).json();
      expect(JSON.stringify(factors)).not.toContain(secret);
      expect(await t.lg.auth.secondFactors('nia')).toEqual(['totp']);
      expect(problems).toEqual([]);
    },
    TEST_TIMEOUT,
  );
  it(
    'first start: the setup link prefills the one-time code, and the console creates the first admin',
    async () => {
      const { t, base, page } = await start();
      const code = await t.lg.auth.issueSetupCode();
      expect(code).toBeDefined();
      await page.goto(`${base}/#/?setup_code=${encodeURIComponent(code!)}`);
      await visible(page.getByRole('heading', { name: 'Create the first admin' }));
      expect(await page.locator('#setup-code').inputValue()).toBe(code);
      await page.locator('#setup-account').fill('root-ada');
      await page.locator('#setup-password').fill(PASSWORD);
      await page.getByRole('button', { name: 'Create admin' }).click();
      // Once the admin exists the setup form goes away, and the account is offered for signing in.
      await page.getByRole('heading', { name: 'Create the first admin' }).waitFor({ state: 'detached' });
      expect(await page.locator('#signin-account').inputValue()).toBe('root-ada');
      expect((await t.get('/v1/setup', { authorization: '' })).json()).toEqual({ pending: false });
      const admin = (await t.get('/v1/principals/root-ada')).json();
      expect(admin.roles.map((r: { role: string }) => r.role)).toEqual(['admin']);
      expect(problems).toEqual([]);
    },
    TEST_TIMEOUT,
  );
});
