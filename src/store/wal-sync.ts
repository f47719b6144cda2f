/**
 * Durability for SQLite without blocking the event loop.
 *
 * SQLite runs in WAL mode with `synchronous=NORMAL`: a commit appends its frames to the write-ahead log with
 * write(2) but does not fsync, so it costs microseconds and survives a crash of the process, not of the
 * machine. To make a commit durable, this barrier then calls fdatasync on the WAL file through libuv's thread
 * pool (fsync syncs the file, whichever descriptor wrote to it). Callers are acknowledged only after a sync
 * that *started after* their commit has finished; one sync covers every commit made before it started, which
 * is what makes group commit cheap.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';

export class WalSync {
  private handle: FileHandle | undefined;
  private opening: Promise<FileHandle> | undefined;
  /** Number of commits announced so far. */
  private committed = 0;
  /** Every commit up to this number is durable. */
  private synced = 0;
  private inFlight: Promise<void> | undefined;
  /** Total fdatasync calls, for metrics and benchmarks. */
  syncCount = 0;

  constructor(private readonly walPath: string) {}

  /** Call after a commit; resolves when that commit is on stable storage. */
  async sync(): Promise<void> {
    const mine = ++this.committed;
    while (this.synced < mine) {
      if (this.inFlight === undefined) {
        this.inFlight = this.runSync().finally(() => {
          this.inFlight = undefined;
        });
      }
      await this.inFlight;
    }
  }

  private async runSync(): Promise<void> {
    const covers = this.committed;
    const handle = await this.fileHandle();
    await handle.datasync();
    this.syncCount++;
    if (covers > this.synced) this.synced = covers;
  }

  private async fileHandle(): Promise<FileHandle> {
    if (this.handle !== undefined) return this.handle;
    this.opening ??= (async () => {
      const h = await open(this.walPath, 'r');
      // The WAL file's directory entry must be durable too, once, when the file first exists.
      const dir = await open(dirname(this.walPath), 'r');
      try {
        await dir.sync();
      } finally {
        await dir.close();
      }
      this.handle = h;
      return h;
    })();
    return this.opening;
  }

  async close(): Promise<void> {
    await this.inFlight;
    await this.handle?.close();
    this.handle = undefined;
    this.opening = undefined;
  }
}
