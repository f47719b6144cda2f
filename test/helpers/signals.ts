/** The synthetic collector payloads the demo uses, for tests (src/cli/commands/synthetic-signals.ts). */
export { ALICE, MALLORY, collectorPayload, seeded, styleFor, type Style } from '../../src/cli/commands/synthetic-signals.js';
