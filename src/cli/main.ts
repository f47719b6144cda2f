#!/usr/bin/env node
/**
 * The `loopgate` command. Each subcommand is a thin door onto the same service layer the HTTP API uses.
 */
import { Command, Option } from 'commander';
import { LoopgateError } from '../core/errors.js';
import { runAuditExport, runAuditRotateKey, runAuditVerify } from './commands/audit.js';
import { runConfigPrint } from './commands/config.js';
import { runDecide } from './commands/decide.js';
import { runDemoCommand } from './commands/demo.js';
import { runEvalKeystroke } from './commands/eval.js';
import { mouseEvalCommand } from './commands/eval-mouse.js';
import { runMigrate } from './commands/migrate.js';
import { runPolicyValidate } from './commands/policy.js';
import { runApiKeyCreate, runPrincipalCreate } from './commands/principals.js';
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
  .command('demo')
  .description('run Loopgate on a fresh SQLite database in a temporary directory, with sample reviewers and a stream of synthetic events that opens cases')
  .option('--host <host>', 'interface to listen on (LOOPGATE_HOST)')
  .option('-p, --port <port>', 'TCP port (LOOPGATE_PORT; default 7470, 0 picks a free one)', (v) => Number(v))
  .option('--rate <events-per-second>', 'pace of the stream (default 0.4: one event every 2.5 s)', (v) => Number(v))
  .option('--events <n>', 'stop the stream after n events (Loopgate keeps running unless --exit)', (v) => Number(v))
  .option('--exit', 'shut down once the stream has stopped (with --events)')
  .option('--seed <n>', 'seed of the stream\'s random choices, to repeat a run', (v) => Number(v))
  .addOption(configOption())
  .action(runDemoCommand);

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

const principal = program.command('principal').description('people, services and agents');
principal
  .command('create')
  .description('create a principal; with --password-stdin, its password is read from stdin')
  .argument('<id>', 'account name (immutable; policies compare it with event fields such as subject.manager)')
  .addOption(configOption())
  .addOption(databaseOption())
  .option('--display-name <name>', 'human-readable name')
  .addOption(new Option('--kind <kind>', 'human, service or agent').choices(['human', 'service', 'agent']).default('human'))
  .option('--sponsor <id>', 'the human accountable for a service or agent')
  .option('--role <role[:condition]>', 'grant a role, optionally scoped by a CEL condition over case and reviewer (repeatable)', (v, acc: string[]) => [...acc, v], [])
  .option('--attribute <key=value>', 'an attribute such as region=EU or manager=carol (repeatable)', (v, acc: string[]) => [...acc, v], [])
  .option('--password-stdin', 'read the password from stdin')
  .action(runPrincipalCreate);

const apikey = program.command('apikey').description('API keys for services, agents and policy enforcement points');
apikey
  .command('create')
  .description('create an API key and print it (once); the principal is created as a service if it does not exist')
  .addOption(configOption())
  .addOption(databaseOption())
  .requiredOption('--role <role>', 'a role the key carries, e.g. pep (repeatable)', (v, acc: string[]) => [...acc, v], [])
  .option('--principal <id>', 'the principal that owns the key (default: named after the roles, e.g. "pep")')
  .option('--sponsor <id>', 'the human sponsor of a new service principal (default: the first admin)')
  .option('--label <text>', 'what the key is for')
  .option('--expires <date-time>', 'when the key stops working (ISO 8601)')
  .action(runApiKeyCreate);

const evaluation = program.command('eval').description('evaluate the behavioural detectors on a data set (docs/evaluation.md)');
evaluation
  .command('keystroke')
  .description('keystroke dynamics, Killourhy & Maxion protocol: per-user EER of scaled Manhattan and the Loopgate detector')
  .requiredOption('--events <file>', 'CSV, one row per key event: user,session,keyname,timepress,timerelease (ms; other columns ignored)')
  .option('--train <n>', 'enrolment samples per user (the first N sessions)', (v) => Number(v), 10)
  .option('--round <ms>', 'round every timestamp to a multiple of this many ms first (a coarse browser timer)', (v) => Number(v))
  .option('--positional', 'ignore key names: align samples by position, as for secret fields')
  .option('--csv <file>', 'write the per-user results to this CSV file')
  .option('--json', 'print the summary as JSON')
  .action(runEvalKeystroke);
evaluation
  .command('mouse')
  .description('mouse dynamics, Balabit challenge protocol: learn each user from training files, score every test session, AUC')
  .requiredOption('--data <dir>', 'a directory with training_files/userN/ and test_files/userN/ (Balabit format)')
  .option('--labels <file>', 'labels (filename,…,is_illegal): prints the pooled and per-user AUC')
  .option('--scores-out <file>', 'write filename,user,score for every test session (higher = more likely not the user)')
  .option('--json', 'print the result as JSON')
  .action(mouseEvalCommand);

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
