#!/usr/bin/env node
/**
 * The `loopgate` command. Each subcommand is a thin door onto the same service layer the HTTP API uses.
 */
import { Command, Option } from 'commander';
import { LoopgateError } from '../core/errors.js';
import { runAuditExport, runAuditRotateKey, runAuditVerify } from './commands/audit.js';
import { runConfigPrint } from './commands/config.js';
import { runDecide } from './commands/decide.js';
import { runMigrate } from './commands/migrate.js';
import { runPolicyValidate } from './commands/policy.js';
import { runReplay } from './commands/replay.js';
import { runStart } from './commands/start.js';

const program = new Command()
  .name('loopgate')
  .description('Keeps verified people in the loop of AI-driven identity decisions.')
  .version('0.1.0')
  .showHelpAfterError();

const configOption = () => new Option('-c, --config <file>', 'configuration file (YAML or JSON); default LOOPGATE_CONFIG or ./loopgate.yaml');
const databaseOption = () => new Option('--database <url>', 'SQLite file path or postgres:// URL (overrides LOOPGATE_DATABASE_URL)');

program
  .command('start')
  .description('run the server (SQLite under ./data by default)')
  .addOption(configOption())
  .addOption(databaseOption())
  .option('--host <host>', 'interface to listen on (LOOPGATE_HOST)')
  .option('-p, --port <port>', 'TCP port (LOOPGATE_PORT)', (v) => Number(v))
  .option('--policy-dir <dir>', 'policy bundle directory (LOOPGATE_POLICY_DIR)')
  .action(runStart);

program
  .command('migrate')
  .description('create or upgrade the database schema')
  .addOption(configOption())
  .addOption(databaseOption())
  .action(runMigrate);

program
  .command('decide')
  .description('decide one event (JSON from FILE or stdin) without a server, and print the decision')
  .argument('[file]', 'a JSON file holding an event, or {"event": ...}; default stdin')
  .addOption(configOption())
  .addOption(databaseOption())
  .option('--dry-run', 'evaluate only: store nothing and learn nothing')
  .option('--policy-dir <dir>', 'policy bundle directory')
  .action(runDecide);

program
  .command('replay')
  .description('send events from a JSON Lines file through the pipeline, with progress and a summary')
  .argument('<file>', 'one event (or {"event": ...}) per line')
  .addOption(configOption())
  .addOption(databaseOption())
  .option('--dry-run', 'evaluate only: store nothing and learn nothing')
  .option('--policy-dir <dir>', 'policy bundle directory')
  .option('--concurrency <n>', 'events in flight at once (they share group commits)', (v) => Number(v), 32)
  .option('--json', 'print the summary as JSON')
  .action(runReplay);

const policy = program.command('policy').description('policy bundles');
policy
  .command('validate')
  .description('check a policy bundle; every error is reported with file, line and column')
  .argument('<dir>', 'the bundle directory')
  .option('--json', 'print the result as JSON')
  .action(runPolicyValidate);

const audit = program.command('audit').description('the tamper-evident audit log');
audit
  .command('verify')
  .description('recompute the Merkle tree and check every entry, node, checkpoint signature and decision digest; exit 0 only if all verify')
  .addOption(configOption())
  .addOption(databaseOption())
  .option('--export <file>', 'verify an export file (loopgate audit export) instead of the database')
  .option('--key <verifier-key>', 'a trusted verifier key (name+id+key); repeat for several', (v: string, all: string[] = []) => [...all, v])
  .option('--json', 'print the report as JSON')
  .action(runAuditVerify);
audit
  .command('export')
  .description('write the log as JSON Lines: checkpoints, consistency proofs, and every entry with its inclusion proof')
  .addOption(configOption())
  .addOption(databaseOption())
  .option('-o, --out <file>', 'output file (default stdout)')
  .action(runAuditExport);
audit
  .command('rotate-key')
  .description('replace the checkpoint signing key; the old verifier key stays trusted')
  .addOption(configOption())
  .action(runAuditRotateKey);

program
  .command('config')
  .description('print the effective configuration (file + environment + defaults)')
  .addOption(configOption())
  .option('--env', 'list every setting with its environment variable instead')
  .action(runConfigPrint);

program.parseAsync().catch((e: unknown) => {
  if (e instanceof LoopgateError) {
    process.stderr.write(`loopgate: ${e.message}\n`);
    // 78 (EX_CONFIG): the configuration or the policy bundle cannot be used; 2: invalid input.
    process.exit(e.code === 'LOOPGATE_ERR_CONFIG_INVALID' || e.code === 'LOOPGATE_ERR_POLICY_INVALID' ? 78 : 2);
  }
  process.stderr.write(`loopgate: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
