/**
 * `loopgate audit verify | export | rotate-key`. These read the database directly and never append to the log
 * (a running server owns the log's tip), so they are safe beside a running server.
 *
 * Exit status of `verify`: 0 when everything verifies, 1 when a problem is found, 2 for unusable input, 78 when no
 * trusted key or configuration is usable.
 */
import { createWriteStream, existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { LoopgateError } from '../../core/errors.js';
import type { Config } from '../../config/schema.js';
import { parseSignerKey, parseTrustedKeys, readTrustedKeys, rotateKey } from '../../adapters/signing-key.js';
import { isPostgresUrl, openStore } from '../../store/open.js';
import type { Store } from '../../store/store.js';
import { exportLogSource, storeLogSource, writeAuditExport } from '../../services/audit-sources.js';
import { verifyAuditLog, type VerifyReport } from '../../services/audit-verify.js';
import { Progress } from '../progress.js';
import { configFrom, type CommonOptions } from './shared.js';

interface VerifyOptions extends CommonOptions {
  export?: string;
  key?: string[];
  json?: boolean;
}

/** Opens the store for reading the log, without migrating or starting a writer. */
async function openForAudit(config: Config): Promise<Store> {
  const url = config.database.url;
  if (!isPostgresUrl(url) && !existsSync(resolve(url.replace(/^sqlite:(\/\/)?/i, '')))) {
    throw new LoopgateError('LOOPGATE_ERR_CONFIG_INVALID', `there is no database at ${url}`);
  }
  const store = openStore({ url, poolSize: 2 });
  try {
    await store.getState('audit.origin');
  } catch (e) {
    await store.close();
    throw new LoopgateError('LOOPGATE_ERR_CONFIG_INVALID', `${store.location} holds no audit log (${(e as Error).message}); start Loopgate once, or run \`loopgate migrate\``);
  }
  return store;
}

/** Keys the auditor trusts: --key, the configuration, and the key directory. Never keys read from the log itself. */
async function trustedKeys(config: Config, extra: string[]) {
  const texts = [...extra, ...config.audit.trusted_keys, ...(await readTrustedKeys(config.audit.key_directory))];
  if (config.audit.signing_key !== undefined) texts.push((await parseSignerKey(config.audit.signing_key)).verifierKey);
  if (texts.length === 0) {
    throw new LoopgateError(
      'LOOPGATE_ERR_CONFIG_INVALID',
      `no trusted verifier key: pass --key <name+id+key> (GET /v1/audit/keys shows them), or set audit.key_directory / audit.trusted_keys`,
    );
  }
  return parseTrustedKeys([...new Set(texts)]);
}

export async function runAuditVerify(options: VerifyOptions): Promise<void> {
  const config = configFrom(options);
  const trusted = await trustedKeys(config, options.key ?? []);
  let store: Store | undefined;
  let report: VerifyReport;
  try {
    let origin = config.audit.origin;
    let source;
    if (options.export !== undefined) {
      source = await exportLogSource(options.export);
    } else {
      store = await openForAudit(config);
      origin = (await store.getState('audit.origin')) ?? origin;
      source = storeLogSource(store);
    }
    const progress = new Progress('verify', 'entries', await source.count());
    try {
      report = await verifyAuditLog(source, { trusted, ...(origin === undefined ? {} : { origin }), onProgress: (done) => progress.tick(done) });
    } finally {
      progress.stop();
    }
  } finally {
    await store?.close();
  }
  if (options.json === true) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else process.stdout.write(formatReport(report));
  if (!report.ok) process.exitCode = 1;
}

function formatReport(r: VerifyReport): string {
  const lines = [
    `${r.source}: ${r.entries.toLocaleString('en-US')} entries, root ${r.root}${r.origin === undefined ? '' : `, origin ${r.origin}`}`,
    `  checkpoints: ${r.checkpoints.verified} of ${r.checkpoints.total} verified`,
  ];
  if (r.nodes.checked > 0) lines.push(`  tree nodes checked: ${r.nodes.checked.toLocaleString('en-US')}`);
  if (r.proofs.checked > 0) lines.push(`  proofs checked: ${r.proofs.checked.toLocaleString('en-US')}`);
  if (r.decisions.checked > 0) lines.push(`  decisions checked against their recorded digests: ${r.decisions.checked.toLocaleString('en-US')}`);
  for (const w of r.warnings) lines.push(`  warning: ${w}`);
  if (r.ok) lines.push('OK: the log verifies');
  else {
    lines.push(`FAILED: ${r.problems.length + r.moreProblems} problem(s); the first:`);
    for (const p of r.problems) lines.push(`  - [${p.kind}] ${p.message}`);
    if (r.moreProblems > 0) lines.push(`  … and ${r.moreProblems} more`);
  }
  return `${lines.join('\n')}\n`;
}

export async function runAuditExport(options: CommonOptions & { out?: string }): Promise<void> {
  const config = configFrom(options);
  const store = await openForAudit(config);
  try {
    await store.start();
    const origin = (await store.getState('audit.origin')) ?? '';
    const keys = await readTrustedKeys(config.audit.key_directory);
    const out = options.out === undefined || options.out === '-' ? process.stdout : createWriteStream(options.out);
    const progress = new Progress('export', 'entries', store.auditSize);
    let result;
    try {
      result = await writeAuditExport(store, out, { origin, verifierKeys: keys, nowMs: Date.now(), onProgress: (d) => progress.tick(d) });
    } finally {
      progress.stop();
    }
    if (out !== process.stdout) {
      await new Promise<void>((done, fail) => out.end((e?: Error | null) => (e ? fail(e) : done())));
      process.stderr.write(`wrote ${result.entries} entries to ${options.out} (proofs against the checkpoint of size ${result.anchor ?? 'none'})\n`);
    }
  } finally {
    await store.close();
  }
}

export async function runAuditRotateKey(options: CommonOptions): Promise<void> {
  const config = configFrom(options);
  if (config.audit.signing_key !== undefined) {
    throw new LoopgateError(
      'LOOPGATE_ERR_CONFIG_INVALID',
      'the signing key comes from audit.signing_key: rotate it there, and add the old verifier key to audit.trusted_keys',
    );
  }
  const { previous, current } = await rotateKey(config.audit.key_directory);
  process.stdout.write(
    `rotated the checkpoint signing key in ${config.audit.key_directory}\n  previous (still trusted): ${previous}\n  current: ${current}\n` +
      'A running server signs with the new key after SIGHUP or a restart; the change is recorded in the log then.\n',
  );
}
