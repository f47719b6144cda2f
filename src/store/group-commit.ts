/**
 * Group commit: requests that arrive while the database is busy are written together in the next transaction,
 * and each caller is answered only once that transaction is durable. Under light load a batch holds one item
 * and is flushed on the next turn of the event loop; under heavy load batches grow on their own, so the cost of
 * a durable commit (a transaction and one fsync) is shared by many requests. There is never more than one
 * flush in flight, which also keeps the order of commits equal to the order of submission.
 */
export interface GroupCommitOptions {
  /** Most items written in one transaction. */
  maxBatch: number;
}

interface Pending<T, R> {
  item: T;
  resolve: (r: R) => void;
  reject: (e: unknown) => void;
}

export class GroupCommitter<T, R> {
  private queue: Array<Pending<T, R>> = [];
  private flushing: Promise<void> | undefined;
  private scheduled = false;
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly write: (items: T[]) => Promise<R[]>,
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
    if (this.queue.length === 0 && this.flushing === undefined && !this.scheduled) return;
    await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
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
        else this.notifyIdle();
      });
    });
  }

  private async flush(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.options.maxBatch);
      let results: R[];
      try {
        results = await this.write(batch.map((p) => p.item));
      } catch (e) {
        // Nothing of a failed batch was committed. Retry each item alone so that one bad item cannot fail the
        // others; an item that still fails is reported to its own caller, never acknowledged.
        if (batch.length === 1) {
          batch[0]!.reject(e);
          continue;
        }
        for (const p of batch) {
          try {
            const [r] = await this.write([p.item]);
            p.resolve(r!);
          } catch (err) {
            p.reject(err);
          }
        }
        continue;
      }
      for (let i = 0; i < batch.length; i++) batch[i]!.resolve(results[i]!);
      // Let requests that arrived during the write join the next batch before it is taken.
      if (this.queue.length > 0 && this.queue.length < this.options.maxBatch) break;
    }
  }

  private notifyIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}
