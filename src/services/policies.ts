/**
 * The active policy bundle: loaded from a directory at start, reloaded without a restart (on request, on
 * SIGHUP, or when a file changes). A bundle with any error is never activated; the previous one stays. Every
 * activated version is recorded with its files so that any decision's policy can be read back later.
 */
import { watch, type FSWatcher } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import type { Clock } from '../core/clock.js';
import type { AuditActor } from '../core/audit/entry.js';
import { policyActivated, type ChangeTrigger } from '../core/audit/records.js';
import { LoopgateError } from '../core/errors.js';
import { loadBundle, type CompiledBundle, type PolicySource } from '../core/policy/load.js';
import type { PolicyError } from '../core/policy/types.js';
import type { Store } from '../store/store.js';
import { sha256Base64 } from './digest.js';
import type { Logger } from './logger.js';

const POLICY_FILE = /\.ya?ml$/i;

/** Reads every .yaml/.yml file under a directory (recursively), with paths relative to it. */
export async function readPolicyDirectory(dir: string): Promise<PolicySource[]> {
  const out: PolicySource[] = [];
  async function walk(d: string): Promise<void> {
    const entries = await readdir(d, { withFileTypes: true });
    for (const e of entries) {
      if (e.name.startsWith('.')) continue;
      const full = join(d, e.name);
      if (e.isDirectory()) await walk(full);
      else if (e.isFile() && POLICY_FILE.test(e.name)) {
        out.push({ path: relative(dir, full).split(sep).join('/'), content: await readFile(full, 'utf8') });
      }
    }
  }
  await walk(dir);
  return out;
}

export type ReloadResult =
  | { ok: true; version: string; changed: boolean }
  | { ok: false; errors: PolicyError[]; version: string | undefined };

export class PolicyService {
  private bundle: CompiledBundle | undefined;
  private watcher: FSWatcher | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private reloading: Promise<ReloadResult> | undefined;
  private stopped = false;
  private readonly activated: Array<(bundle: CompiledBundle) => void> = [];

  constructor(
    readonly directory: string,
    private readonly store: Store | undefined,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  /** The active bundle. Throws before the first successful load. */
  current(): CompiledBundle {
    if (this.bundle === undefined) throw new LoopgateError('LOOPGATE_ERR_NOT_READY', 'no policy bundle is loaded');
    return this.bundle;
  }

  /** Called with every bundle activated from now on. */
  onActivate(listener: (bundle: CompiledBundle) => void): void {
    this.activated.push(listener);
  }

  get loaded(): boolean {
    return this.bundle !== undefined;
  }

  /** Loads and activates the bundle; at start a bad bundle is fatal, later it keeps the old one. */
  async reload(trigger: ChangeTrigger, actor?: AuditActor): Promise<ReloadResult> {
    // Serialise reloads: the watcher and an API call may ask at the same time.
    while (this.reloading !== undefined) await this.reloading.catch(() => undefined);
    this.reloading = this.doReload(trigger, actor).finally(() => {
      this.reloading = undefined;
    });
    return this.reloading;
  }

  private async doReload(trigger: ChangeTrigger, actor: AuditActor | undefined): Promise<ReloadResult> {
    const sources = await readPolicyDirectory(this.directory);
    if (sources.length === 0) {
      const errors = [{ file: '.', line: 1, column: 1, message: 'no policy files (*.yaml, *.yml) in this directory' }];
      return { ok: false, errors, version: this.bundle?.version };
    }
    const result = loadBundle(sources);
    if (!result.ok) {
      this.logger.warn({ errors: result.errors, keeping: this.bundle?.version }, 'policy bundle rejected');
      return { ok: false, errors: result.errors, version: this.bundle?.version };
    }
    const changed = result.bundle.version !== this.bundle?.version;
    if (changed) {
      if (this.store !== undefined) {
        const version = result.bundle.version;
        const now = this.clock.now();
        // The bundle a run starts with is a change only if it differs from the one active when the last run ended.
        const previous = this.bundle?.version ?? (await this.store.lastActivatedPolicy());
        const entry =
          previous === version
            ? undefined
            : policyActivated({
                version,
                previous,
                files: result.bundle.sources.map((f) => ({ path: f.path, sha256: sha256Base64(f.content) })),
                trigger,
                ...(actor === undefined ? {} : { actor }),
              });
        await this.store.recordPolicyVersion(
          version,
          JSON.stringify(result.bundle.sources),
          now,
          entry === undefined ? undefined : { inputs: [entry], timeMs: now },
        );
      }
      this.bundle = result.bundle;
      for (const listener of this.activated) listener(result.bundle);
      this.logger.info({ version: result.bundle.version, files: result.bundle.files.length }, 'policy bundle activated');
    }
    return { ok: true, version: result.bundle.version, changed };
  }

  /**
   * Reloads when a file in the directory changes (debounced: editors write in several steps). The watcher is
   * re-created after every change, because an atomic save (write a temporary file, rename it over the old one)
   * replaces the file the recursive watcher was following on Linux, and later changes would go unnoticed.
   */
  watch(): void {
    if (this.watcher !== undefined || this.stopped) return;
    try {
      this.watcher = watch(this.directory, { recursive: true, persistent: false }, (_event, file) => {
        if (file !== null && !POLICY_FILE.test(String(file))) return;
        clearTimeout(this.debounce);
        this.debounce = setTimeout(() => {
          this.watcher?.close();
          this.watcher = undefined;
          void this.reload('watch')
            .catch((e) => this.logger.error({ err: e }, 'policy reload failed'))
            .finally(() => {
              this.watch();
              // A save that landed while the watcher was being re-armed would otherwise go unnoticed; reloading an
              // unchanged bundle is a no-op.
              void this.reload('watch').catch((e) => this.logger.error({ err: e }, 'policy reload failed'));
            });
        }, 250);
      });
      this.watcher.on('error', (e) => this.logger.warn({ err: e }, 'policy directory watch stopped'));
    } catch (e) {
      this.logger.warn({ err: e, directory: this.directory }, 'cannot watch the policy directory; reload with SIGHUP or the API');
    }
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.debounce);
    this.watcher?.close();
    this.watcher = undefined;
  }
}
