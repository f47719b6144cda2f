/**
 * The audit log as a service: appending entries (group-committed), signing checkpoints, and serving entries,
 * proofs and searches. Changes that touch other tables append their entry through the store in the same
 * transaction (decisions, policies); this service appends the entries that change nothing else (reads of the
 * log, start-up records) and owns the checkpoint signing key.
 *
 * A checkpoint is signed at least every `checkpointIntervalMs` while entries arrive, on request, and at shutdown.
 */
import type { Clock, Random } from '../core/clock.js';
import type { AuditInput } from '../core/audit/entry.js';
import { auditGuardsRestored, configurationChanged, modelActivated, signingKeyActivated, type SettingChange } from '../core/audit/records.js';
import { LoopgateError } from '../core/errors.js';
import { existingKeyName, loadOrCreateKey, parseSignerKey, parseTrustedKeys, type CheckpointSigner } from '../adapters/signing-key.js';
import { GroupCommitter } from '../store/group-commit.js';
import type { AuditSearch, Store, StoredAuditEntry, StoredCheckpoint } from '../store/store.js';
import { toBase64, toHex, utf8 } from '../verify/bytes.js';
import type { Hash } from '../verify/merkle.js';
import { formatCheckpointBody, signatureLine, type VerifierKey } from '../verify/note.js';
import { auditRangeError, ProofReader, type ConsistencyProof, type InclusionProof } from './audit-proofs.js';
import { sha256Base64 } from './digest.js';
import type { Logger } from './logger.js';

export interface AuditServiceOptions {
  /** The log's origin from configuration (fixed at first start). */
  origin: string | undefined;
  keyDirectory: string;
  /** A signing key supplied through configuration instead of the key directory. */
  signingKey: string | undefined;
  /** More trusted verifier keys from configuration. */
  trustedKeys: string[];
  checkpointIntervalMs: number;
  maxBatch: number;
}

export interface AuditDeps {
  store: Store;
  clock: Clock;
  random: Random;
  logger: Logger;
}

export interface CheckpointView {
  origin: string;
  size: number;
  /** Base64 root hash. */
  root: string;
  /** The signed note (c2sp.org/tlog-checkpoint): verify it with a trusted key. */
  checkpoint: string;
  key_id: string;
  created_at: string;
}

export interface EntryView {
  index: number;
  leaf_hash: string;
  /** The entry; its leaf is SHA-256(0x00 ‖ RFC 8785 canonical form of this object). */
  entry: unknown;
}

/** Most entries returned by one read. */
export const MAX_ENTRIES_PER_READ = 1000;

const STATE_ORIGIN = 'audit.origin';
const STATE_KEY = 'audit.signing_key';
const STATE_CONFIG = 'config';
const STATE_MODEL = 'model.version';

export class AuditService {
  private readonly committer: GroupCommitter<AuditInput, number>;
  private readonly proofs: ProofReader;
  private signer: CheckpointSigner | undefined;
  private trusted: VerifierKey[] = [];
  private trustedTexts: string[] = [];
  private originName: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** Checkpoints are signed one at a time. */
  private signing: Promise<StoredCheckpoint> | undefined;
  private signedSize = -1;

  constructor(
    private readonly deps: AuditDeps,
    private readonly options: AuditServiceOptions,
  ) {
    this.committer = new GroupCommitter(
      async (inputs) => deps.store.appendAudit({ inputs, timeMs: deps.clock.now() }),
      { maxBatch: options.maxBatch },
    );
    this.proofs = new ProofReader(deps.store);
  }

  get origin(): string {
    if (this.originName === undefined) throw new Error('AuditService.start() has not been called');
    return this.originName;
  }

  /** Fixes the origin, loads (or creates) the signing key, and starts signing checkpoints. */
  async start(): Promise<void> {
    if (!(await this.deps.store.auditGuardsInPlace())) {
      this.deps.logger.error({ store: this.deps.store.location }, 'the triggers that keep the audit log append-only were missing; restoring them and recording it');
      await this.deps.store.restoreAuditGuards({ inputs: [auditGuardsRestored()], timeMs: this.deps.clock.now() });
    }
    this.originName = await this.resolveOrigin();
    await this.loadKeys();
    const latest = await this.deps.store.latestCheckpoint();
    this.signedSize = latest?.size ?? -1;
    this.timer = setInterval(() => {
      if (this.deps.store.auditSize === this.signedSize) return;
      this.checkpoint().catch((e) => this.deps.logger.error({ err: e }, 'signing an audit checkpoint failed'));
    }, this.options.checkpointIntervalMs);
    this.timer.unref();
  }

  /**
   * The origin is the log's identity: set once, from configuration or generated, and kept in the database. A
   * configuration naming another origin is refused, because checkpoints already signed name this one.
   */
  private async resolveOrigin(): Promise<string> {
    const stored = await this.deps.store.getState(STATE_ORIGIN);
    const configured = this.options.origin;
    if (stored !== undefined) {
      if (configured !== undefined && configured !== stored) {
        throw new LoopgateError(
          'LOOPGATE_ERR_CONFIG_INVALID',
          `audit.origin is "${configured}" but this database's audit log is "${stored}"; the origin of a log cannot change`,
        );
      }
      return stored;
    }
    // A new database with an existing key (from configuration or the key directory) takes the key's name.
    const keyName = this.options.signingKey !== undefined
      ? (await parseSignerKey(this.options.signingKey)).name
      : await existingKeyName(this.options.keyDirectory);
    const origin = configured ?? keyName ?? `loopgate.local/${toHex(this.deps.random.fill(new Uint8Array(6)))}`;
    await this.deps.store.setState(STATE_ORIGIN, origin);
    return origin;
  }

  /** Loads the signing key (configuration, else the key directory) and the trusted keys; records a new key. */
  async loadKeys(): Promise<void> {
    const origin = this.origin;
    let signer: CheckpointSigner;
    let fromDirectory: string[] = [];
    if (this.options.signingKey !== undefined) {
      signer = await parseSignerKey(this.options.signingKey);
      if (signer.name !== origin) {
        throw new LoopgateError('LOOPGATE_ERR_CONFIG_INVALID', `audit.signing_key is named "${signer.name}" but the audit log's origin is "${origin}"`);
      }
    } else {
      const dir = await loadOrCreateKey(this.options.keyDirectory, origin);
      if (dir.created) this.deps.logger.info({ key: dir.signer.verifierKey, directory: this.options.keyDirectory }, 'created the checkpoint signing key');
      signer = dir.signer;
      fromDirectory = dir.trusted;
    }
    const texts = [...new Set([signer.verifierKey, ...fromDirectory, ...this.options.trustedKeys])];
    this.trusted = await parseTrustedKeys(texts);
    this.trustedTexts = texts;
    const previous = await this.deps.store.getState(STATE_KEY);
    if (previous !== signer.verifierKey) {
      await this.deps.store.setState(STATE_KEY, signer.verifierKey, {
        inputs: [signingKeyActivated(signer.verifierKey, previous)],
        timeMs: this.deps.clock.now(),
      });
    }
    this.signer = signer;
  }

  /** Verifier keys whose checkpoints this log accepts: the active key first. */
  verifierKeys(): string[] {
    return [...this.trustedTexts];
  }

  trustedKeys(): VerifierKey[] {
    return [...this.trusted];
  }

  /** Appends an entry (group-committed); resolves with its sequence number once durable. */
  record(input: AuditInput): Promise<number> {
    return this.committer.submit(input);
  }

  /**
   * Records, at start, what changed since the last run: the configuration (secrets masked by the caller) and the
   * risk model version. Nothing is written when nothing changed.
   */
  async recordStartup(config: Record<string, unknown>, modelVersion: string): Promise<void> {
    const { store, clock } = this.deps;
    const text = JSON.stringify(config);
    const digest = sha256Base64(text);
    const previousText = await store.getState(STATE_CONFIG);
    if (previousText !== text) {
      const previous = previousText === undefined ? undefined : (JSON.parse(previousText) as Record<string, unknown>);
      const changes = diffSettings(previous ?? {}, config);
      const entry = configurationChanged(digest, previousText === undefined ? undefined : sha256Base64(previousText), changes);
      await store.setState(STATE_CONFIG, text, { inputs: [entry], timeMs: clock.now() });
    }
    const previousModel = await store.getState(STATE_MODEL);
    if (previousModel !== modelVersion) {
      await store.setState(STATE_MODEL, modelVersion, { inputs: [modelActivated(modelVersion, previousModel)], timeMs: clock.now() });
    }
  }

  /** Signs a checkpoint of the committed tree, unless the latest one already covers it. */
  checkpoint(): Promise<StoredCheckpoint> {
    const run = async (): Promise<StoredCheckpoint> => {
      const { store, clock } = this.deps;
      const head = store.auditHead();
      const latest = await store.latestCheckpoint();
      if (latest !== undefined && latest.size >= head.size) {
        this.signedSize = latest.size;
        return latest;
      }
      const signer = this.signer;
      if (signer === undefined) throw new Error('AuditService.start() has not been called');
      const body = formatCheckpointBody({ origin: this.origin, size: head.size, root: head.root });
      const note = `${body}\n${signatureLine(signer.name, signer.keyId, signer.sign(utf8(body)))}`;
      const row: StoredCheckpoint = {
        size: head.size,
        created_at: clock.now(),
        root: head.root,
        key_id: signer.keyId.toString(16).padStart(8, '0'),
        note,
      };
      await store.saveCheckpoint(row);
      this.signedSize = head.size;
      return row;
    };
    const next = (this.signing ?? Promise.resolve()).then(run, run) as Promise<StoredCheckpoint>;
    this.signing = next;
    void next.finally(() => {
      if (this.signing === next) this.signing = undefined;
    }).catch(() => undefined);
    return next;
  }

  /**
   * The latest signed checkpoint (at most one checkpoint interval behind the log while entries arrive); the first
   * is signed on demand.
   */
  async latestCheckpoint(): Promise<CheckpointView> {
    return this.view((await this.deps.store.latestCheckpoint()) ?? (await this.checkpoint()));
  }

  view(row: StoredCheckpoint): CheckpointView {
    return {
      origin: this.origin,
      size: row.size,
      root: toBase64(row.root),
      checkpoint: row.note,
      key_id: row.key_id,
      created_at: new Date(row.created_at).toISOString(),
    };
  }

  /** RFC 6962 inclusion proof of entry `index` in the tree of `size` entries (default: the latest checkpoint). */
  async inclusionProof(index: number, size?: number): Promise<InclusionProof> {
    return this.proofs.inclusion(index, size ?? (await this.latestCheckpoint()).size);
  }

  /** RFC 6962 consistency proof between two tree sizes. */
  consistencyProof(first: number, second: number): Promise<ConsistencyProof> {
    return this.proofs.consistency(first, second);
  }

  /** The root hash of the tree of `size` entries, from stored nodes. */
  rootAt(size: number): Promise<Hash> {
    return this.proofs.rootAt(size);
  }

  /** Entries start..end, both included (as RFC 6962 get-entries), at most MAX_ENTRIES_PER_READ. */
  async entries(start: number, end: number): Promise<EntryView[]> {
    const size = this.deps.store.auditSize;
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start) {
      throw auditRangeError(`start (${start}) and end (${end}) must satisfy 0 ≤ start ≤ end`);
    }
    if (start >= size) throw auditRangeError(`start ${start} is beyond the last entry (${size - 1})`);
    const last = Math.min(end, size - 1, start + MAX_ENTRIES_PER_READ - 1);
    return (await this.deps.store.auditEntries(start, last + 1)).map(entryView);
  }

  async search(q: AuditSearch): Promise<EntryView[]> {
    return (await this.deps.store.searchAudit({ ...q, limit: Math.min(q.limit, MAX_ENTRIES_PER_READ) })).map(entryView);
  }

  get size(): number {
    return this.deps.store.auditSize;
  }

  /** Waits for pending entries, stops the timer and signs a final checkpoint, so a clean stop leaves none unsigned. */
  async drain(): Promise<void> {
    clearInterval(this.timer);
    await this.committer.drain();
    if (this.signer !== undefined && this.deps.store.auditSize !== this.signedSize) await this.checkpoint();
  }

}


function entryView(e: StoredAuditEntry): EntryView {
  return { index: e.seq, leaf_hash: toBase64(e.leaf_hash), entry: JSON.parse(e.entry) as unknown };
}

/** Leaf settings that differ between two configurations, by dotted path. */
export function diffSettings(before: Record<string, unknown>, after: Record<string, unknown>): SettingChange[] {
  const flat = (o: unknown, prefix: string, out: Map<string, unknown>): Map<string, unknown> => {
    if (o !== null && typeof o === 'object' && !Array.isArray(o)) {
      for (const [k, v] of Object.entries(o)) flat(v, prefix === '' ? k : `${prefix}.${k}`, out);
    } else out.set(prefix, o);
    return out;
  };
  const a = flat(before, '', new Map());
  const b = flat(after, '', new Map());
  const changes: SettingChange[] = [];
  for (const path of [...new Set([...a.keys(), ...b.keys()])].sort()) {
    const from = a.get(path);
    const to = b.get(path);
    if (JSON.stringify(from) === JSON.stringify(to)) continue;
    const change: SettingChange = { path };
    if (from !== undefined) change.from = from;
    if (to !== undefined) change.to = to;
    changes.push(change);
  }
  return changes;
}
