/**
 * The configuration, in one place: every setting with its type, default, environment variable and meaning.
 * docs/configuration.md is generated from this file (`npm run docs:config`), and a test keeps them in step.
 */
import Type, { type Static, type TSchema } from 'typebox';
import { DEFAULT_BEHAVIOUR_CONFIG, type SignalWeights } from '../core/behaviour/signals.js';

/** Attach the environment variable that sets a value (when not the derived LOOPGATE_<PATH> name). */
const env = (name: string) => ({ env: name });

/** The shared weights of a behavioural signal: contribution = clamp(weight × (deviations − free), −credit, max). */
const SignalWeightFields = (d: SignalWeights) => ({
  weight: Type.Number({ minimum: 0, default: d.weight, description: 'Logit points per deviation from the usual beyond free_deviations.' }),
  free_deviations: Type.Number({ minimum: 0, default: d.freeDeviations, description: 'Deviations from the subject’s usual that carry no risk.' }),
  max_contribution: Type.Number({ minimum: 0, default: d.maxContribution, description: 'Largest contribution of the signal, logit points.' }),
  typical_credit: Type.Number({ minimum: 0, default: d.typicalCredit, description: 'Largest risk reduction for a rhythm typical of the subject, logit points.' }),
});
const BEHAVIOUR = DEFAULT_BEHAVIOUR_CONFIG;

const Level = Type.Union([Type.Literal('low'), Type.Literal('medium'), Type.Literal('high'), Type.Literal('critical')]);

export const ConfigSchema = Type.Object(
  {
    server: Type.Object(
      {
        host: Type.String({ default: '127.0.0.1', description: 'Interface to listen on; 0.0.0.0 in a container.', ...env('LOOPGATE_HOST') }),
        port: Type.Integer({ minimum: 0, maximum: 65535, default: 7470, description: 'TCP port (0 picks a free port).', ...env('LOOPGATE_PORT') }),
        public_url: Type.Optional(
          Type.String({
            format: 'uri',
            description: 'Public base URL (the AuthZEN PDP identifier and endpoint URLs). Set it in production; default http://<host>:<port> from this configuration.',
            ...env('LOOPGATE_PUBLIC_URL'),
          }),
        ),
        body_limit: Type.Integer({ minimum: 1024, maximum: 10485760, default: 65536, description: 'Largest request body accepted, in bytes.' }),
        shutdown_timeout_ms: Type.Integer({ minimum: 0, default: 10000, description: 'How long a graceful shutdown waits for in-flight work.' }),
        trust_proxy: Type.Boolean({ default: false, description: 'Trust X-Forwarded-* headers from a reverse proxy.' }),
      },
      { default: {}, additionalProperties: false },
    ),
    database: Type.Object(
      {
        url: Type.String({
          minLength: 1,
          default: './data/loopgate.db',
          description: 'An SQLite file path, or a postgres:// URL.',
          ...env('LOOPGATE_DATABASE_URL'),
        }),
        pool_size: Type.Integer({ minimum: 1, maximum: 100, default: 10, description: 'PostgreSQL connections.' }),
        max_batch: Type.Integer({ minimum: 1, maximum: 5000, default: 512, description: 'Most decisions written in one group commit.' }),
      },
      { default: {}, additionalProperties: false },
    ),
    policy: Type.Object(
      {
        directory: Type.Optional(
          Type.String({ description: 'Policy bundle directory; default: the bundle shipped with Loopgate.', ...env('LOOPGATE_POLICY_DIR') }),
        ),
        watch: Type.Boolean({ default: true, description: 'Reload the bundle when a file in the directory changes.' }),
      },
      { default: {}, additionalProperties: false },
    ),
    geoip: Type.Object(
      {
        enabled: Type.Boolean({ default: true, description: 'Look up country, city and ASN of IP addresses offline.' }),
        city_databases: Type.Array(Type.String(), {
          default: [],
          description: 'MaxMind-format city databases (.mmdb), tried in order; default: DB-IP City Lite (IPv4 and IPv6).',
        }),
        asn_ipv4_csv: Type.Optional(Type.String({ description: 'ASN ranges for IPv4 (start,end,asn,org with numeric IPs); default: ip-location-db.' })),
        asn_ipv6_csv: Type.Optional(Type.String({ description: 'ASN ranges for IPv6, same layout.' })),
      },
      { default: {}, additionalProperties: false },
    ),
    risk: Type.Object(
      {
        scoring_thread: Type.Boolean({
          default: true,
          description:
            'Score decisions in a worker thread, so that the event loop serving HTTP only parses, commits and answers (needs an IP resolver that can be opened in the thread: the configured databases, or none).',
        }),
        half_life_days: Type.Number({ exclusiveMinimum: 0, default: 90, description: 'Baseline counts halve in weight every this many days.' }),
        alpha: Type.Number({ exclusiveMinimum: 0, default: 1, description: 'Least smoothing mass of the login model (Witten–Bell: at least the distinct values seen).' }),
        bias: Type.Number({ default: -3, description: 'Logit of an event with no evidence either way.' }),
        weights: Type.Object(
          {
            network: Type.Number({ minimum: 0, default: 1, description: 'IP → ASN → country family.' }),
            client: Type.Number({ minimum: 0, default: 0.7, description: 'User agent → browser/OS → device type family.' }),
            device: Type.Number({ minimum: 0, default: 0.8, description: 'Device id.' }),
            hour: Type.Number({ minimum: 0, default: 0.3, description: 'Hour of day.' }),
          },
          { default: {}, additionalProperties: false },
        ),
        level_weights: Type.Object(
          {
            ip: Type.Number({ minimum: 0, default: 0.5, description: 'A new IP on a known network (IPs change with every lease).' }),
            asn: Type.Number({ minimum: 0, default: 1, description: 'A new network (ASN) in a known country.' }),
            country: Type.Number({ minimum: 0, default: 1, description: 'A new country.' }),
            ua: Type.Number({ minimum: 0, default: 0.4, description: 'A new user-agent string of a known browser and OS (browsers update monthly).' }),
            client: Type.Number({ minimum: 0, default: 1, description: 'A new browser or OS on a known device type.' }),
            device_type: Type.Number({ minimum: 0, default: 1, description: 'A new device type (desktop, mobile, tablet).' }),
          },
          { default: {}, additionalProperties: false, description: 'Weight of each level of the back-off hierarchies.' },
        ),
        max_log_ratio: Type.Number({ default: 6.9, description: 'Upper bound of a family’s log likelihood ratio.' }),
        min_log_ratio: Type.Number({ default: -2, description: 'Lower bound of a family’s log likelihood ratio.' }),
        levels: Type.Object(
          {
            medium: Type.Number({ minimum: 0, maximum: 1, default: 0.3 }),
            high: Type.Number({ minimum: 0, maximum: 1, default: 0.7 }),
            critical: Type.Number({ minimum: 0, maximum: 1, default: 0.95 }),
          },
          { default: {}, additionalProperties: false, description: 'Lowest score of each level above low.' },
        ),
        learn_max_level: { ...Level, default: 'low', description: 'Highest risk level an allowed event may have to be learned into a baseline.' } as TSchema,
        travel: Type.Object(
          {
            max_speed_kmh: Type.Number({ exclusiveMinimum: 0, default: 1000 }),
            min_distance_km: Type.Number({ minimum: 0, default: 500 }),
            weight: Type.Number({ minimum: 0, default: 3 }),
          },
          { default: {}, additionalProperties: false, description: 'Impossible travel.' },
        ),
        velocity: Type.Object(
          {
            window_minutes: Type.Number({ exclusiveMinimum: 0, default: 10 }),
            max_failures: Type.Integer({ minimum: 1, default: 5 }),
            max_accounts_per_ip: Type.Integer({ minimum: 1, default: 5 }),
            failure_weight: Type.Number({ minimum: 0, default: 1.5 }),
            accounts_weight: Type.Number({ minimum: 0, default: 2 }),
            max_keys: Type.Integer({ minimum: 100, default: 100000, description: 'Accounts and IPs tracked in memory.' }),
          },
          { default: {}, additionalProperties: false, description: 'Attempts per account and accounts per IP.' },
        ),
        session_signal_weights: Type.Object(
          {
            low: Type.Number({ default: 0 }),
            medium: Type.Number({ default: 2 }),
            high: Type.Number({ default: 5 }),
          },
          { default: {}, additionalProperties: false },
        ),
        behaviour: Type.Object(
          {
            keystroke: Type.Object(
              {
                window: Type.Integer({ minimum: 2, maximum: 100, default: BEHAVIOUR.keystroke.window, description: 'Trusted entries kept per subject and field (the newest).' }),
                min_samples: Type.Integer({ minimum: 2, maximum: 100, default: BEHAVIOUR.keystroke.minSamples, description: 'Trusted entries of a field needed before its typing is scored.' }),
                ...SignalWeightFields(BEHAVIOUR.keystroke),
              },
              { default: {}, additionalProperties: false, description: 'Typing rhythm per field (docs/risk.md).' },
            ),
            pointer: Type.Object(
              {
                min_sessions: Type.Integer({ minimum: 1, maximum: 1000, default: BEHAVIOUR.pointer.minSessions, description: 'Trusted sessions with pointer actions needed before the pointer is scored.' }),
                min_actions: Type.Integer({ minimum: 1, maximum: 1000, default: BEHAVIOUR.pointer.minActions, description: 'Pointer actions (moves, clicks, drags) a login needs to be scored or learned.' }),
                ...SignalWeightFields(BEHAVIOUR.pointer),
              },
              { default: {}, additionalProperties: false, description: 'Pointer movement (docs/risk.md).' },
            ),
          },
          { default: {}, additionalProperties: false, description: 'Typing and pointer rhythm from the browser collector.' },
        ),
        subject_value_cap: Type.Integer({ minimum: 1, default: 32, description: 'Distinct values kept per feature per principal.' }),
        global_value_cap: Type.Integer({ minimum: 100, default: 100000, description: 'Distinct values kept per feature globally.' }),
        baseline_cache_size: Type.Integer({ minimum: 1, default: 100000, description: 'Principals whose baselines stay in memory.' }),
        snapshot_interval_seconds: Type.Number({ exclusiveMinimum: 0, default: 10, description: 'How often changed baselines are snapshotted.' }),
        challenge_ttl_seconds: Type.Integer({ minimum: 1, default: 600, description: 'How long a challenge may be answered by an mfa event.' }),
      },
      { default: {}, additionalProperties: false },
    ),
    audit: Type.Object(
      {
        origin: Type.Optional(
          Type.String({
            pattern: '^[\\x21-\\x2a\\x2c-\\x7e]+$',
            maxLength: 255,
            description:
              'The log\'s identity: the first line of every checkpoint and the name of its signing key (e.g. audit.example.com/loopgate). Fixed at first start; default: loopgate.local/<random>.',
            ...env('LOOPGATE_AUDIT_ORIGIN'),
          }),
        ),
        key_directory: Type.String({
          minLength: 1,
          default: './data/keys',
          description: 'Where the checkpoint signing key (checkpoint.key, mode 0600) and the trusted verifier keys (trusted/*.pub) live; created on first start.',
          ...env('LOOPGATE_AUDIT_KEY_DIR'),
        }),
        signing_key: Type.Optional(
          Type.String({
            minLength: 1,
            secret: true,
            description: 'The signing key itself (PRIVATE+KEY+<origin>+<id>+<key>) instead of a key file, e.g. from a secret store. Never printed or logged.',
            ...env('LOOPGATE_AUDIT_SIGNING_KEY'),
          }),
        ),
        trusted_keys: Type.Array(Type.String(), {
          default: [],
          description: 'More verifier keys (<name>+<id>+<key>) whose checkpoints verify, e.g. keys used before a rotation done through signing_key.',
        }),
        checkpoint_interval_ms: Type.Integer({
          minimum: 100,
          maximum: 60000,
          default: 1000,
          description: 'How often a checkpoint is signed while entries arrive.',
        }),
        max_batch: Type.Integer({ minimum: 1, maximum: 10000, default: 1024, description: 'Most audit entries written in one group commit.' }),
      },
      { default: {}, additionalProperties: false },
    ),
    auth: Type.Object(
      {
        session_ttl_minutes: Type.Integer({ minimum: 1, maximum: 10080, default: 720, description: 'How long a session lasts after sign-in.' }),
        max_failures: Type.Integer({ minimum: 1, maximum: 1000, default: 5, description: 'Failed credential checks for one account within the window before it is locked.' }),
        max_failures_per_ip: Type.Integer({ minimum: 1, maximum: 100000, default: 50, description: 'Failed credential checks from one address within the window before it is locked.' }),
        failure_window_minutes: Type.Integer({ minimum: 1, maximum: 1440, default: 15, description: 'The window over which failures count.' }),
        lockout_minutes: Type.Integer({ minimum: 1, maximum: 1440, default: 15, description: 'How long an account or address stays locked.' }),
        cookie_secure: Type.Boolean({ default: false, description: 'Mark the session cookie Secure (set true behind HTTPS).' }),
        rp_id: Type.Optional(Type.String({ minLength: 1, description: 'WebAuthn relying party id (a domain); default: the host of the public URL.' })),
        rp_origins: Type.Array(Type.String(), { default: [], description: 'Origins allowed in WebAuthn responses; default: the public URL.' }),
        setup_code_ttl_minutes: Type.Integer({ minimum: 1, maximum: 10080, default: 1440, description: 'How long the first-admin setup code printed at start stays valid.' }),
      },
      { default: {}, additionalProperties: false },
    ),
    review: Type.Object(
      {
        lease_minutes: Type.Integer({ minimum: 1, maximum: 1440, default: 15, description: 'How long a claim on a case lasts.' }),
        reporting_line_conflict: Type.Boolean({
          default: false,
          description: "Refuse a reviewer who is the subject's manager or reports to the subject (off by default: managers approve their reports' access).",
        }),
        verdict_challenge_ttl_seconds: Type.Integer({ minimum: 10, maximum: 3600, default: 300, description: 'How long a verdict challenge (the payload to sign) stays valid.' }),
        sweep_interval_ms: Type.Integer({ minimum: 100, maximum: 600000, default: 5000, description: 'How often deadlines and leases are checked.' }),
      },
      { default: {}, additionalProperties: false },
    ),
    webhooks: Type.Object(
      {
        max_attempts: Type.Integer({ minimum: 1, maximum: 50, default: 8, description: 'Delivery attempts before a delivery goes to the dead-letter list.' }),
        base_delay_ms: Type.Integer({ minimum: 10, maximum: 3600000, default: 1000, description: 'Delay before the first retry; doubled each time.' }),
        max_delay_ms: Type.Integer({ minimum: 10, maximum: 86400000, default: 3600000, description: 'Longest delay between retries.' }),
        timeout_ms: Type.Integer({ minimum: 100, maximum: 60000, default: 5000, description: 'How long a receiver has to answer.' }),
      },
      { default: {}, additionalProperties: false },
    ),
    log: Type.Object(
      {
        level: Type.Union(
          [Type.Literal('fatal'), Type.Literal('error'), Type.Literal('warn'), Type.Literal('info'), Type.Literal('debug'), Type.Literal('trace'), Type.Literal('silent')],
          { default: 'info', ...env('LOOPGATE_LOG_LEVEL') },
        ),
        requests: Type.Boolean({ default: true, description: 'Log one line per HTTP request.' }),
      },
      { default: {}, additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

export type Config = Static<typeof ConfigSchema> & { risk: { learn_max_level: 'low' | 'medium' | 'high' | 'critical' } };
