/**
 * What the console's browser tests share: a test Loopgate on a real port with the console, a fresh Chromium page
 * that records page errors and CSP violations, and the steps every test takes (wait for something visible, sign in
 * with password and TOTP, take a screenshot). Needs `npm run build` first: the server serves dist/console.
 *
 * The server runs on a test clock, but not the fixed T0 of the other tests: the session cookie's Expires comes from
 * the server's clock (sign-in + 12 h), and Chromium drops a cookie that expired by its own, real clock. So the clock
 * starts at 09:00 UTC on a day near the real date (the same time of day in every run, so risk scores are stable).
 * Pages are opened on http://localhost:<port> because passkeys need the relying party's origin (derived from
 * server.port), not 127.0.0.1.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { afterEach, expect } from 'vitest';
import type { BrowserContext, Locator, Page } from 'playwright-core';
import { startTestLoopgate, TestClock, type TestLoopgate } from '../helpers/app.js';
import { openBrowser, type TestBrowser } from '../helpers/browser.js';
import { PASSWORD, totpAt, TOTP_STEP_MS, type Reviewer } from '../helpers/reviewers.js';

export const HOUR = 3_600_000;
export const TEST_TIMEOUT = 90_000;
export const UI_TIMEOUT = 15_000;
const SCREENSHOTS = 'test-results/screenshots';

/** 09:00 UTC today, or tomorrow when today's would make a session opened now expire within the hour (12 h sessions). */
function nearRealNine(): number {
  const now = Date.now();
  const nine = new Date(now);
  nine.setUTCHours(9, 0, 0, 0);
  let t0 = nine.getTime();
  if (t0 + 11 * HOUR < now) t0 += 24 * HOUR;
  return t0;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve, reject) => server.close((e) => (e ? reject(e) : resolve())));
  return port;
}

export interface ConsoleHarness {
  /** Page errors and CSP violations seen since the last start() (tests expect none). */
  readonly problems: string[];
  /** A test Loopgate whose passkey relying party is http://localhost:<port>, and a fresh browser page. */
  start(): Promise<{ t: TestLoopgate; base: string; page: Page; context: BrowserContext }>;
}

/** Call inside a describe: each test's Loopgate and browser are closed after it. */
export function consoleHarness(): ConsoleHarness {
  let t: TestLoopgate | undefined;
  let browser: TestBrowser | undefined;
  const problems: string[] = [];
  afterEach(async () => {
    await browser?.close();
    browser = undefined;
    await t?.close();
    t = undefined;
  });
  return {
    problems,
    async start() {
      expect(existsSync('dist/console/index.html'), 'run `npm run build` first: the server serves dist/console').toBe(true);
      const port = await freePort();
      t = await startTestLoopgate({ store: 'sqlite', overrides: { 'server.port': port }, clock: new TestClock(nearRealNine()) });
      await t.app.listen({ port, host: '127.0.0.1' });
      browser = await openBrowser();
      const page = await browser.context.newPage();
      page.setDefaultTimeout(UI_TIMEOUT);
      problems.length = 0;
      page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
      page.on('console', (m) => {
        if (m.type() === 'error' && /Content Security Policy|Refused to/i.test(m.text())) problems.push(`CSP: ${m.text()}`);
      });
      return { t, base: `http://localhost:${port}`, page, context: browser.context };
    },
  };
}

export async function shot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: `${SCREENSHOTS}/${name}.png`, fullPage: true });
}

/** Waits for the locator; on a timeout, the error says what the page showed instead. */
export async function visible(locator: Locator): Promise<Locator> {
  try {
    await locator.first().waitFor({ state: 'visible' });
  } catch (e) {
    const page = locator.page();
    const text = await page.locator('body').innerText().catch(() => '(no page text)');
    throw new Error(`${(e as Error).message.split('\n')[0]}\nat ${page.url()}, the page showed:\n${text.slice(0, 1500)}`);
  }
  return locator;
}

/** Password, then the authenticator app's code for the server's now (one TOTP step after the last code used). */
export async function signIn(page: Page, t: TestLoopgate, r: Reviewer, screenshot?: string): Promise<void> {
  t.clock.advance(TOTP_STEP_MS);
  await visible(page.getByRole('heading', { name: 'Sign in' }));
  if (screenshot !== undefined) await shot(page, screenshot);
  await page.locator('#signin-account').fill(r.id);
  await page.locator('#signin-password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await visible(page.getByRole('heading', { name: 'Second factor' }));
  await page.getByLabel('Code', { exact: true }).fill(await totpAt(r.totpSecret, t.clock.now()));
  await page.getByRole('button', { name: 'Verify', exact: true }).click();
  await visible(page.getByRole('heading', { name: 'Review queue' }));
  expect(await page.getByTestId('signed-in-as').textContent()).toBe(r.id);
}
