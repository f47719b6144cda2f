/**
 * The case view's "Typing and pointer" card in Chromium: alice signs in every day from her laptop with the browser
 * collector's payload (her typing and pointer rhythm), each login allowed at low risk and learned; then someone
 * with another rhythm signs in as her from a new laptop, and the login goes to review. The card shows
 * each typed field's deviations from alice's usual on a gauge (the password's well beyond the free zone, with the
 * note that only positions were collected), the enrolled entries, the contributions, and the pointer.
 *
 * Seeded through the public HTTP API only; the server's clock and the page's origin: see ./support.ts.
 */
import { describe, expect, it } from 'vitest';
import { login, type TestLoopgate } from '../helpers/app.js';
import { caseOf, decide, PASSWORD, reviewer } from '../helpers/reviewers.js';
import { ALICE, collectorPayload, MALLORY } from '../helpers/signals.js';
import { consoleHarness, HOUR, shot, signIn, TEST_TIMEOUT, visible } from './support.js';

const DAY = 24 * HOUR;
const TRUSTED = 12;

interface Reason {
  signal: string;
  contribution: number;
  sentence: string;
  detail?: Record<string, any>;
}

describe('the case view’s typing and pointer card in Chromium', () => {
  const harness = consoleHarness();
  const { problems } = harness;

  /** Ordinary logins of alice, one a day from her laptop, each with her collector payload; every one allowed and learned. */
  async function trustedLogins(t: TestLoopgate, t0: number): Promise<void> {
    for (let i = TRUSTED; i >= 1; i--) {
      const time = t0 - i * DAY + (i % 3) * HOUR;
      const d = await decide(t, login('alice', time, { ip: `81.2.69.${160 + (i % 4)}` }, { signals: collectorPayload(ALICE, 1000 + i) }));
      expect(d.outcome, JSON.stringify(d.risk)).toBe('allow');
      expect(d.learned).toBe(true);
    }
  }

  /** Baselines fold after commit: waits until a dry run of alice's usual login scores her password typing against every trusted entry. */
  async function untilEnrolled(t: TestLoopgate, t0: number): Promise<void> {
    let last: Reason[] = [];
    for (let attempt = 0; attempt < 50; attempt++) {
      const res = await t.post('/v1/decisions', { event: login('alice', t0 - HOUR, {}, { signals: collectorPayload(ALICE, 7) }), dry_run: true });
      expect(res.statusCode, res.body).toBe(200);
      last = res.json().risk.reasons as Reason[];
      const password = last.find((r) => r.signal === 'typing_rhythm' && r.detail?.field === 'password');
      if (password?.detail?.deviations !== undefined && password.detail.enrolled >= TRUSTED) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`alice's typing was not enrolled: ${JSON.stringify(last)}`);
  }

  it(
    'shows each field’s deviations from the subject’s usual on a gauge, the enrolment and the secret field’s note',
    async () => {
      const { t, base, page } = await harness.start();
      const t0 = t.clock.now();
      expect((await t.post('/v1/principals', { id: 'ada', password: PASSWORD, roles: [{ role: 'admin' }] })).statusCode).toBe(201);
      await trustedLogins(t, t0);
      await untilEnrolled(t, t0);
      const sam = await reviewer(t, 'sam', ['security_analyst'], { region: 'EU' });

      // Someone else, typing and moving the pointer their own way, on a new laptop: a new device alone would be
      // stepped up; with the typing it is high risk, and reviewed (a new browser as well would make it critical).
      const d = await decide(
        t,
        login('alice', t0 - HOUR / 2, { device_id: 'alice-new-laptop' }, { subject: { id: 'alice', region: 'EU' }, signals: collectorPayload(MALLORY, 4242) }),
      );
      expect(d.outcome, JSON.stringify(d.risk)).toBe('review');
      const reasons = d.risk.reasons as Reason[];
      const password = reasons.find((r) => r.signal === 'typing_rhythm' && r.detail?.field === 'password');
      expect(password?.detail).toMatchObject({ secret: true, enrolled: TRUSTED });
      expect(password!.detail!.deviations).toBeGreaterThan(1.5);
      const caseId = (await caseOf(t, d.id)).id as string;

      await page.goto(base);
      await signIn(page, t, sam);
      await page.goto(`${base}/#/cases/${caseId}`);
      await visible(page.getByRole('heading', { name: 'Why the machine asked a person' }));
      // The reasons list is still there, with the typing reason's sentence.
      await visible(page.getByText(/^typing rhythm on password \d+\.\d deviations from alice's usual \(12 trusted entries, positions only\)/));

      const card = await visible(page.getByRole('region', { name: 'Typing and pointer' }));
      const table = card.getByRole('table', { name: 'Typing and pointer' });

      const passwordRow = table.locator('tr[data-behaviour="typing-password"]');
      await visible(passwordRow);
      expect(await passwordRow.textContent()).toContain('positions only, keys never collected');
      expect(await passwordRow.textContent()).toContain(`${TRUSTED} trusted entries`);
      const meter = passwordRow.getByRole('meter', { name: 'Deviations from the usual, password' });
      const now = Number(await meter.getAttribute('aria-valuenow'));
      expect(now).toBeGreaterThan(1.5);
      expect(now).toBeCloseTo(Math.min(6, password!.detail!.deviations as number), 1);
      const shown = Number(await passwordRow.getByTestId('deviations').textContent().then((s) => s!.split(' ')[0]));
      expect(shown).toBeGreaterThan(1.5);
      expect(shown).toBeCloseTo(password!.detail!.deviations as number, 1);
      expect(await passwordRow.locator('.contribution').textContent()).toMatch(/^\+\d+\.\d\d$/);

      const accountRow = table.locator('tr[data-behaviour="typing-account"]');
      await visible(accountRow);
      expect(await accountRow.textContent()).not.toContain('keys never collected');
      expect(await accountRow.textContent()).toContain(`${TRUSTED} trusted entries`);
      await visible(accountRow.getByRole('meter', { name: 'Deviations from the usual, account' }));

      // The pointer: scored or not yet, its enrolled sessions are shown.
      const pointerRow = table.locator('tr[data-behaviour="pointer"]');
      await visible(pointerRow);
      expect(await pointerRow.textContent()).toMatch(/trusted sessions/);

      // The event section summarises the payload instead of printing its timings.
      const eventCard = page.getByRole('region', { name: 'The event' });
      await visible(eventCard.getByText('account: 5 keystrokes; password (secret): 10 keystrokes; pointer:', { exact: false }));
      expect(await eventCard.locator('dl').textContent()).not.toContain('"strokes"');

      await shot(page, 'case-behaviour');
      expect(problems).toEqual([]);
    },
    TEST_TIMEOUT,
  );
});
