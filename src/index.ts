/**
 * `loopgate`: the server as a library. Most users run the `loopgate` command; embed with these when needed.
 * The client for applications and agents is `loopgate/sdk`.
 */
export { createLoopgate, riskConfigFrom, DEFAULT_POLICY_DIRECTORY, type Loopgate, type LoopgateOptions } from './loopgate.js';
export { startServer, handleSignals, createLogger, type RunningServer } from './server.js';
export { buildHttpApp } from './http/app.js';
export { loadConfig, listSettings } from './config/load.js';
export type { Config } from './config/schema.js';
export { LoopgateError, ERROR_CODES, type ErrorCode, type ProblemDocument, type FieldError } from './core/errors.js';
export { EVENT_TYPES, type EventType, type LoopgateEvent } from './core/events/schema.js';
export { parseEvent } from './core/events/parse.js';
export { loadBundle, type CompiledBundle, type PolicySource } from './core/policy/load.js';
export type { Decision } from './core/decision.js';
export type { RiskAssessment, RiskLevel } from './core/risk/engine.js';
