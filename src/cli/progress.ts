import cliProgress from 'cli-progress';

/** A progress bar on a terminal; otherwise a line every few seconds (CI logs, pipes). */
export class Progress {
  private readonly bar: cliProgress.SingleBar | undefined;
  private lastLine = 0;
  private readonly started = performance.now();
  private done = 0;

  constructor(
    private readonly label: string,
    private readonly unit: string,
    private readonly total: number,
  ) {
    if (process.stderr.isTTY) {
      this.bar = new cliProgress.SingleBar(
        { format: `${label} [{bar}] {percentage}% | {value}/{total} ${unit} | {rate}/s | eta {eta}s`, stream: process.stderr, hideCursor: true },
        cliProgress.Presets.shades_classic,
      );
      this.bar.start(total, 0, { rate: 0 });
    }
  }

  tick(done: number): void {
    this.done = done;
    const seconds = (performance.now() - this.started) / 1000;
    const rate = seconds > 0 ? Math.round(done / seconds) : 0;
    if (this.bar !== undefined) {
      this.bar.update(done, { rate });
    } else if (performance.now() - this.lastLine > 2000) {
      this.lastLine = performance.now();
      process.stderr.write(`${this.label}: ${done}/${this.total} ${this.unit} (${this.total === 0 ? 100 : Math.round((100 * done) / this.total)}%), ${rate}/s\n`);
    }
  }

  stop(): void {
    this.bar?.update(this.done);
    this.bar?.stop();
  }
}
