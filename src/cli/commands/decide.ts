import { LoopgateError, toProblem } from '../../core/errors.js';
import { configFrom, eventOf, openForCommand, readInput, type CommonOptions } from './shared.js';

export async function runDecide(file: string | undefined, options: CommonOptions & { dryRun?: boolean }): Promise<void> {
  let text: string;
  try {
    text = readInput(file);
  } catch (e) {
    throw new LoopgateError('LOOPGATE_ERR_VALIDATION', `cannot read ${file ?? 'stdin'}: ${(e as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new LoopgateError('LOOPGATE_ERR_MALFORMED_JSON', `${file ?? 'stdin'}: ${(e as Error).message}`);
  }
  // One event: starting the scoring thread (and opening the IP databases a second time) would cost more than it saves.
  const lg = await openForCommand(configFrom(options), { scoringThread: false });
  try {
    const { json } = await lg.decisions.decide(eventOf(raw), { dryRun: options.dryRun === true });
    process.stdout.write(`${JSON.stringify(JSON.parse(json), null, 2)}\n`);
  } catch (e) {
    if (e instanceof LoopgateError && e.status < 500) {
      process.stderr.write(`${JSON.stringify(toProblem(e), null, 2)}\n`);
      process.exitCode = 2;
      return;
    }
    throw e;
  } finally {
    await lg.close();
  }
}
