/**
 * The reviewer console: the static files Vite builds into dist/console, served at `/`. The console uses only the
 * public HTTP API (with the session cookie and its CSRF token), so serving it is all the server does for it. Its
 * routes are hash-based (`/#/cases/…`): no server-side fallback is needed.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
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

/** The compiled browser collector (src/collector → dist/collector/index.js), beside the server or from the sources. */
export function collectorFile(): string | undefined {
  for (const rel of ['../../collector/index.js', '../../../dist/collector/index.js']) {
    const file = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(file)) return file;
  }
  return undefined;
}

/**
 * `GET /collector.js`: the browser collector, for login pages on other origins to import as a module (hence CORS
 * and a cross-origin resource policy). It is code, not data: no credential, nothing about any user.
 */
export function registerCollectorRoute(app: FastifyInstance): void {
  const file = collectorFile();
  app.get('/collector.js', { schema: { tags: ['operations'], summary: 'The browser collector (ES module) a login page includes for typing and pointer rhythm.' } }, async (_request, reply) => {
    if (file === undefined) return reply.callNotFound();
    const source = (await readFile(file, 'utf8')).replace(/\n\/\/# sourceMappingURL=.*\s*$/, '\n');
    return reply
      .type('text/javascript; charset=utf-8')
      .header('access-control-allow-origin', '*')
      .header('cross-origin-resource-policy', 'cross-origin')
      .header('x-content-type-options', 'nosniff')
      .header('cache-control', 'no-cache')
      .send(source);
  });
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
