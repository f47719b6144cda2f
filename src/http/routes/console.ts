/**
 * The reviewer console: the static files Vite builds into dist/console, served at `/`. The console uses only the
 * public HTTP API (with the session cookie and its CSRF token), so serving it is all the server does for it. Its
 * routes are hash-based (`/#/cases/…`): no server-side fallback is needed.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import fastifyStatic from '@fastify/static';

/**
 * A strict policy: the console's own scripts only, no inline script, no framing; styles may be inline (React's
 * `style` attributes); images from data: URLs (the TOTP QR code).
 */
export const CONSOLE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "object-src 'none'",
].join('; ');

/** dist/console beside the compiled server (dist/http/routes → dist/console), or from the sources (tests). */
export function consoleDirectory(): string | undefined {
  for (const rel of ['../../console', '../../../dist/console']) {
    const dir = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(`${dir}/index.html`)) return dir;
  }
  return undefined;
}

export async function registerConsoleRoutes(app: FastifyInstance): Promise<boolean> {
  const root = consoleDirectory();
  if (root === undefined) return false;
  await app.register(fastifyStatic, {
    root,
    prefix: '/',
    index: ['index.html'],
    // Not part of the API: kept out of the OpenAPI document.
    schemaHide: true,
    setHeaders(res, path) {
      res.header('content-security-policy', CONSOLE_CSP);
      res.header('x-content-type-options', 'nosniff');
      res.header('referrer-policy', 'no-referrer');
      // Hashed asset names never change content; the page itself is always revalidated.
      res.header('cache-control', path.includes('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache');
    },
  });
  return true;
}
