/**
 * `loopgate principal create` and `loopgate apikey create`: administration from the machine Loopgate runs on,
 * before anyone can sign in (the first PEP key) or when the console is out of reach. They write through the same
 * service layer as the API, with their audit entries, recorded as done by the operating-system user at the CLI.
 */
import { userInfo } from 'node:os';
import type { AuditActor } from '../../core/audit/entry.js';
import { LoopgateError } from '../../core/errors.js';
import { PrincipalService, type NewBinding, type PrincipalKind } from '../../services/principals.js';
import { openStore } from '../../store/open.js';
import { systemClock, systemRandom } from '../../loopgate.js';
import { configFrom, readInput, type CommonOptions } from './shared.js';

function cliActor(): AuditActor {
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // no passwd entry (containers): keep "unknown"
  }
  return { kind: 'system', id: `cli:${user}` };
}

async function withPrincipals<T>(options: CommonOptions, run: (principals: PrincipalService) => Promise<T>): Promise<T> {
  const config = configFrom(options);
  const store = openStore({ url: config.database.url, poolSize: 2 });
  try {
    await store.migrate();
    await store.start();
    const principals = new PrincipalService({ store, clock: systemClock, random: systemRandom });
    await principals.start();
    return await run(principals);
  } finally {
    await store.close();
  }
}

/** `role` or `role:CEL condition`. */
function parseBinding(text: string): NewBinding {
  const i = text.indexOf(':');
  return i < 0 ? { role: text } : { role: text.slice(0, i), condition: text.slice(i + 1) };
}

export async function runPrincipalCreate(
  id: string,
  options: CommonOptions & { displayName?: string; kind?: string; sponsor?: string; role?: string[]; attribute?: string[]; passwordStdin?: boolean },
): Promise<void> {
  const attributes: Record<string, string> = {};
  for (const a of options.attribute ?? []) {
    const i = a.indexOf('=');
    if (i <= 0) throw new LoopgateError('LOOPGATE_ERR_VALIDATION', `--attribute ${a}: expected key=value`);
    attributes[a.slice(0, i)] = a.slice(i + 1);
  }
  const password = options.passwordStdin ? readInput('-').replace(/\r?\n$/, '') : undefined;
  await withPrincipals(options, async (principals) => {
    const p = await principals.create(
      {
        id,
        kind: (options.kind ?? 'human') as PrincipalKind,
        ...(options.displayName === undefined ? {} : { display_name: options.displayName }),
        ...(options.sponsor === undefined ? {} : { sponsor: options.sponsor }),
        attributes,
        roles: (options.role ?? []).map(parseBinding),
        ...(password === undefined ? {} : { password }),
      },
      cliActor(),
    );
    process.stdout.write(`${JSON.stringify({ ...p, roles: await principals.bindings(p.id) }, null, 2)}\n`);
  });
}

export async function runApiKeyCreate(options: CommonOptions & { role: string[]; principal?: string; sponsor?: string; label?: string; expires?: string }): Promise<void> {
  await withPrincipals(options, async (principals) => {
    const actor = cliActor();
    const principalId = options.principal ?? options.role.join('-');
    if (!(await principals.exists(principalId))) {
      // A new service principal for the key. Its sponsor is named, or is the first admin; before anyone is set up,
      // the operator at the CLI is accountable (recorded as the actor) and the sponsor is left empty.
      const sponsor = options.sponsor ?? (await firstAdmin(principals));
      await principals.create(
        { id: principalId, kind: 'service', ...(sponsor === undefined ? {} : { sponsor }), roles: options.role.map((role) => ({ role })) },
        actor,
        { requireSponsor: false },
      );
    }
    const { key, info } = await principals.createApiKey(
      { principal_id: principalId, roles: options.role, ...(options.label === undefined ? {} : { label: options.label }), ...(options.expires === undefined ? {} : { expires_at: options.expires }) },
      actor,
    );
    process.stderr.write(`API key ${info.id} for ${principalId} (roles ${info.roles.join(', ')}); it is shown once:\n`);
    process.stdout.write(`${key}\n`);
  });
}

async function firstAdmin(principals: PrincipalService): Promise<string | undefined> {
  for (const p of await principals.list()) {
    if (p.kind === 'human' && p.roles.some((b) => b.role === 'admin')) return p.id;
  }
  return undefined;
}
