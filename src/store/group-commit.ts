/**
 * Group commit: requests that arrive while the database is busy are written together in the next transaction,
 * and each caller is answered only once that transaction is durable. Under light load a batch holds one item
 * and is flushed on the next turn of the event loop; under heavy load batches grow on their own, so the cost of
 * a commit (a transaction and one sync) is shared by many requests. One batch is in flight at a time, which
 * keeps commits in submission order.
 */
export interface GroupCommitOptions {
  /** Most items written in one transaction. */
  maxBatch: number;
}

/** Writes a batch in one transaction; resolves only when it is durable. */
export type BatchWriter<T, R> = (items: T[]) => Promise<R[]>;

interface Pending<T, R> {
  item: T;
  resolve: (r: R) => void;
  reject: (e: unknown) => void;
}

export class GroupCommitter<T, R> {
  private queue: Array<Pending<T, R>> = [];
  private flushing: Promise<void> | undefined;
  private scheduled = false;

  constructor(
    private readonly write: BatchWriter<T, R>,
    private readonly options: GroupCommitOptions,
  ) {}

  /** Resolves when the item is durably committed, with what the writer returned for it. */
  submit(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.schedule();
    });
  }

  get pending(): number {
    return this.queue.length;
  }

  /** Resolves once everything submitted so far is committed (or has failed). */
  async drain(): Promise<void> {
    while (this.queue.length > 0 || this.flushing !== undefined || this.scheduled) {
      if (this.flushing !== undefined) await this.flushing;
      else await new Promise((r) => setImmediate(r));
    }
  }

  private schedule(): void {
    if (this.scheduled || this.flushing !== undefined) return;
    this.scheduled = true;
    // setImmediate runs after the current I/O phase, so every request parsed in this phase joins the batch.
    setImmediate(() => {
      this.scheduled = false;
      this.flushing = this.flush().finally(() => {
        this.flushing = undefined;
        if (this.queue.length > 0) this.schedule();
      });
    });
  }

  private async flush(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.options.maxBatch);
      await this.commitIsolating(batch);
      // Requests that arrived during the write join the next batch after one more turn of the event loop.
      if (this.queue.length < this.options.maxBatch) break;
    }
  }

  /** Commits a batch; if it fails, retries each item alone so that one bad item fails only its own caller. */
  private async commitIsolating(batch: Array<Pending<T, R>>): Promise<void> {
    try {
      const results = await this.write(batch.map((p) => p.item));
      for (let i = 0; i < batch.length; i++) batch[i]!.resolve(results[i]!);
    } catch (e) {
      if (batch.length === 1) {
        batch[0]!.reject(e);
        return;
      }
      for (const p of batch) {
        try {
          const [r] = await this.write([p.item]);
          p.resolve(r!);
        } catch (err) {
          p.reject(err);
        }
      }
    }
  }
}
