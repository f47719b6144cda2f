/**
 * Running Loopgate as a server: structured JSON logs, listen, and a graceful shutdown on SIGTERM/SIGINT
 * (stop accepting, let in-flight requests finish, flush pending writes and baseline snapshots, close the
 * database). SIGHUP reloads the policy bundle and the audit signing key.
 */
import type { FastifyInstance } from 'fastify';
import pino, { type Logger as PinoLogger } from 'pino';
import type { Config } from './config/schema.js';
import { buildHttpApp, publicBaseUrl } from './http/app.js';
import { createLoopgate, type Loopgate, type LoopgateOptions } from './loopgate.js';

export interface RunningServer {
  loopgate: Loopgate;
  app: FastifyInstance;
  /** Where the server listens. */
  url: string;
  /** The public base URL (server.public_url, else the listening address). */
  publicUrl: string;
  logger: PinoLogger;
  /** Graceful shutdown; resolves when everything is flushed and closed. */
  close(): Promise<void>;
}

/** JSON logs to stdout (the server) or another file descriptor (commands log to stderr: fd 2). */
export function createLogger(config: Config, fd = 1): PinoLogger {
  return pino({
    level: config.log.level,
    base: { service: 'loopgate' },
    timestamp: pino.stdTimeFunctions.isoTime,
    // Secrets never reach the log, whatever a future log call includes.
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers.cookie',
        'res.headers["set-cookie"]',
        '*.password',
        '*.secret',
        '*.token',
        '*.api_key',
      ],
      censor: '[redacted]',
    },
  }, pino.destination({ fd, sync: fd !== 1 }));
}

export async function startServer(config: Config, options: LoopgateOptions & { logger?: PinoLogger } = {}): Promise<RunningServer> {
  const logger = options.logger ?? createLogger(config);
  const loopgate = await createLoopgate(config, { ...options, logger });
  let app: FastifyInstance;
  try {
    app = await buildHttpApp(loopgate, { logger });
    await app.listen({ host: config.server.host, port: config.server.port });
  } catch (e) {
    await loopgate.close();
    throw e;
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : config.server.port;
  const host = typeof address === 'object' && address !== null ? address.address : config.server.host;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  const publicUrl = publicBaseUrl(loopgate, port);
  logger.info({ url, public_url: publicUrl, store: loopgate.store.location, policy: loopgate.policies.current().version }, 'Loopgate is listening');

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      logger.info('shutting down: draining in-flight requests');
      const timer = setTimeout(() => {
        logger.error({ timeout_ms: config.server.shutdown_timeout_ms }, 'shutdown timed out; exiting');
        process.exit(1);
      }, config.server.shutdown_timeout_ms);
      timer.unref();
      // Order matters: stop taking requests and finish those in flight, then flush writes, then close the store.
      // Keep-alive connections that were busy when the drain began go idle afterwards: close them as they do
      // (responses during the drain also carry Connection: close), so the drain ends when the work does.
      const reaper = setInterval(() => app.server.closeIdleConnections(), 50);
      try {
        await app.close();
      } finally {
        clearInterval(reaper);
      }
      logger.info('shutting down: HTTP server closed; flushing decisions, baselines and the database');
      await loopgate.close();
      clearTimeout(timer);
      logger.info('shutdown complete');
    })();
    return closing;
  };
  return { loopgate, app, url, publicUrl, logger, close };
}

/** Installs signal handlers for a foreground server process. */
export function handleSignals(server: RunningServer): void {
  const stop = (signal: string) => {
    server.logger.info({ signal }, 'signal received');
    server.close().then(
      () => process.exit(0),
      (e) => {
        server.logger.error({ err: e }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => {
    void server.loopgate.policies.reload('signal').then(
      (r) =>
        r.ok
          ? server.logger.info({ version: r.version, changed: r.changed }, 'policy reload (SIGHUP)')
          : server.logger.warn({ errors: r.errors }, 'policy reload rejected (SIGHUP)'),
      (e) => server.logger.error({ err: e }, 'policy reload failed (SIGHUP)'),
    );
    // A rotated checkpoint key (loopgate audit rotate-key) is picked up here; a bad key keeps the current one.
    void server.loopgate.audit.loadKeys().then(
      () => server.logger.info({ key: server.loopgate.audit.verifierKeys()[0] }, 'audit signing key loaded (SIGHUP)'),
      (e) => server.logger.error({ err: e }, 'audit signing key reload failed; the current key stays (SIGHUP)'),
    );
  });
}
