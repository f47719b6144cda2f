/**
 * Event schemas, version 1. Each event type has its own JSON Schema (built with TypeBox so the static types
 * follow from the same source). Unknown fields are rejected so that a typo (`ammount`) is an error, not a
 * silently ignored field; free-form data belongs in the `properties` bags.
 */
import Type, { type Static, type TSchema } from 'typebox';

export const EVENT_TYPES = [
  'login',
  'mfa',
  'transaction',
  'role.change',
  'access.request',
  'agent.action',
  'session.signal',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export const EVENT_SCHEMA_VERSION = 1;

const Id = (description: string) => Type.String({ minLength: 1, maxLength: 256, description });
const ShortText = (description: string, maxLength = 256) => Type.String({ maxLength, description });
const Properties = Type.Record(Type.String({ maxLength: 128 }), Type.Unknown(), {
  description: 'Free-form attributes, available to policies; not validated.',
});
const Impact = Type.Union([Type.Literal('low'), Type.Literal('medium'), Type.Literal('high'), Type.Literal('critical')]);
const Roles = Type.Array(Type.String({ minLength: 1, maxLength: 256 }), { maxItems: 256 });

export const SubjectSchema = Type.Object(
  {
    id: Id('Stable identifier of the person or account the event is about.'),
    type: Type.Optional(ShortText('Kind of subject, e.g. "user" (default) or "service".', 64)),
    display_name: Type.Optional(ShortText('Human-readable name.')),
    email: Type.Optional(ShortText('E-mail address.')),
    department: Type.Optional(ShortText('Department or cost centre.')),
    title: Type.Optional(ShortText('Job title.')),
    manager: Type.Optional(ShortText('Subject id of the manager (reporting line).')),
    region: Type.Optional(ShortText('Region used to scope reviewers, e.g. "EU".', 64)),
    location: Type.Optional(ShortText('Office or home location.')),
    roles: Type.Optional(Roles),
    properties: Type.Optional(Properties),
  },
  { additionalProperties: false },
);

export const ActorSchema = Type.Object(
  {
    kind: Type.Union([Type.Literal('human'), Type.Literal('agent')], { description: 'Who performs the action.' }),
    id: Id('Identifier of the acting person or agent.'),
    name: Type.Optional(ShortText('Display name of the actor.')),
    sponsor: Type.Optional(ShortText('For agents: the human sponsor responsible for the agent.')),
    properties: Type.Optional(Properties),
  },
  { additionalProperties: false },
);

export const GeoSchema = Type.Object(
  {
    country: Type.Optional(Type.String({ pattern: '^[A-Z]{2}$', description: 'ISO 3166-1 alpha-2 country code.' })),
    region: Type.Optional(ShortText('Region or state.')),
    city: Type.Optional(ShortText('City.')),
    latitude: Type.Optional(Type.Number({ minimum: -90, maximum: 90 })),
    longitude: Type.Optional(Type.Number({ minimum: -180, maximum: 180 })),
    asn: Type.Optional(Type.Integer({ minimum: 0, maximum: 4294967295, description: 'Autonomous system number.' })),
    as_org: Type.Optional(ShortText('Autonomous system organisation.')),
  },
  { additionalProperties: false, description: 'Pre-resolved location; when present Loopgate does not look the IP up.' },
);

export const ContextSchema = Type.Object(
  {
    ip: Type.Optional(Type.String({ format: 'ip', description: 'Client IP address (IPv4 or IPv6).' })),
    user_agent: Type.Optional(ShortText('HTTP User-Agent of the client.', 1024)),
    device_id: Type.Optional(ShortText('Stable device identifier (cookie, MDM id, passkey device).')),
    session_id: Type.Optional(ShortText('Session identifier.')),
    geo: Type.Optional(GeoSchema),
    properties: Type.Optional(Properties),
  },
  { additionalProperties: false },
);

/** Fields every event shares. */
const envelope = {
  type: Type.String({ description: 'The event type.' }),
  version: Type.Optional(Type.Literal(EVENT_SCHEMA_VERSION, { description: 'Schema version; 1.' })),
  id: Type.Optional(Id('Caller-assigned event id, kept with the decision for correlation.')),
  subject: SubjectSchema,
  actor: Type.Optional(ActorSchema),
  time: Type.Optional(Type.String({ format: 'date-time', description: 'When it happened (RFC 3339); default now.' })),
  context: Type.Optional(ContextSchema),
};

function eventSchema<K extends EventType, T extends Record<string, TSchema>>(type: K, description: string, fields: T) {
  return Type.Object(
    { ...envelope, type: Type.Literal(type), ...fields },
    { additionalProperties: false, description, $id: `loopgate.event.${type}.v${EVENT_SCHEMA_VERSION}` },
  );
}

const Millis = Type.Number({ minimum: 0, maximum: 3_600_000 });
/** The browser collector's payload (src/collector/index.ts, docs/collector.md), version 1. */
export const SignalsSchema = Type.Object(
  {
    v: Type.Literal(1),
    collector: ShortText('Who collected the signals, e.g. "loopgate".', 64),
    timer_resolution_ms: Type.Number({ minimum: 0, maximum: 1000, description: 'The smallest step the page’s clock was seen to take.' }),
    fields: Type.Optional(
      Type.Record(
        Type.String({ minLength: 1, maxLength: 64 }),
        Type.Object(
          {
            secret: Type.Boolean({ description: 'A secret field (a password): only positions and timings, never keys.' }),
            keys: Type.Optional(Type.Array(Type.String({ maxLength: 32 }), { maxItems: 256, description: 'The keys, in order; never for a secret field.' })),
            // [position, down, up] (a tuple, written as a fixed-length array: Ajv 2020 and OpenAPI both read it).
            strokes: Type.Array(Type.Array(Millis, { minItems: 3, maxItems: 3 }), {
              maxItems: 256,
              description: '[position, key-down, key-up] in ms from the field’s first key-down.',
            }),
            truncated: Type.Optional(Type.Boolean()),
          },
          { additionalProperties: false },
        ),
        { maxProperties: 8, description: 'Typing rhythm per field, by the name the page gave it.' },
      ),
    ),
    pointer: Type.Optional(
      Type.Object(
        {
          events: Type.Array(Type.Number(), { maxItems: 8000, description: 'Quadruples t (ms), x, y (CSS px), kind (0 move, 1x press of button x, 2x release, 3 wheel).' }),
          viewport: Type.Array(Type.Number({ minimum: 0, maximum: 100_000 }), { minItems: 2, maxItems: 2, description: 'Width and height, CSS px.' }),
          truncated: Type.Optional(Type.Boolean()),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false, description: 'Behavioural signals from the browser collector (typing and pointer rhythm).' },
);

export const LoginEventSchema = eventSchema('login', 'A sign-in attempt.', {
  result: Type.Optional(
    Type.Union([Type.Literal('success'), Type.Literal('failure')], {
      description: 'Outcome of the primary credential check, if already known.',
    }),
  ),
  method: Type.Optional(ShortText('Primary method, e.g. "password", "passkey", "sso".', 64)),
  signals: Type.Optional(SignalsSchema),
});

export const MfaEventSchema = eventSchema('mfa', 'A second-factor or step-up check.', {
  method: ShortText('Method, e.g. "totp", "webauthn", "push", "sms".', 64),
  result: Type.Union([Type.Literal('success'), Type.Literal('failure')]),
  decision_id: Type.Optional(Id('The decision whose challenge this MFA answers.')),
});

export const TransactionEventSchema = eventSchema('transaction', 'A payment or transfer.', {
  amount: Type.Number({ minimum: 0, description: 'Amount in the currency unit (not minor units).' }),
  currency: Type.String({ pattern: '^[A-Z]{3}$', description: 'ISO 4217 currency code.' }),
  payee: Type.Object(
    {
      id: Id('Payee identifier.'),
      name: Type.Optional(ShortText('Payee name.')),
      account: Type.Optional(ShortText('Payee account (e.g. IBAN).')),
      country: Type.Optional(Type.String({ pattern: '^[A-Z]{2}$' })),
    },
    { additionalProperties: false },
  ),
  channel: Type.Optional(ShortText('Channel, e.g. "web", "mobile", "api".', 64)),
});

export const RoleChangeEventSchema = eventSchema('role.change', "A change to a subject's roles or privileges.", {
  roles: Type.Object(
    {
      before: Roles,
      after: Roles,
    },
    { additionalProperties: false, description: 'Roles before and after; Loopgate derives `added` and `removed`.' },
  ),
  application: Type.Optional(ShortText('Application or system whose roles change.')),
  justification: Type.Optional(ShortText('Why the change is requested.', 2000)),
});

export const AccessRequestEventSchema = eventSchema('access.request', 'A request for an entitlement.', {
  entitlement: Type.Object(
    {
      id: Id('Entitlement identifier.'),
      name: Type.Optional(ShortText('Entitlement name.')),
      application: Type.Optional(ShortText('Application that grants it.')),
      sensitivity: Type.Optional(Impact),
    },
    { additionalProperties: false },
  ),
  justification: Type.Optional(ShortText('Why access is needed.', 2000)),
  duration_seconds: Type.Optional(Type.Integer({ minimum: 1, description: 'Requested duration; absent = permanent.' })),
});

const AuthorizationDetail = Type.Object(
  { type: Type.String({ minLength: 1, maxLength: 256 }) },
  { additionalProperties: true, description: 'RFC 9396 authorization_details entry.' },
);

export const AgentActionEventSchema = eventSchema('agent.action', "An AI agent's intended action.", {
  action: Type.Object(
    {
      name: Id('What the agent intends to do, e.g. "role.assign".'),
      tool: Type.Optional(ShortText('Tool or API the agent calls.')),
      target: Type.Optional(
        Type.Object(
          { type: Type.Optional(ShortText('Kind of target.', 64)), id: Type.Optional(Id('Target id.')) },
          { additionalProperties: false },
        ),
      ),
      parameters: Type.Optional(Properties),
      impact: Type.Optional(Impact),
    },
    { additionalProperties: false },
  ),
  authorization_details: Type.Optional(Type.Array(AuthorizationDetail, { maxItems: 32 })),
});

export const SessionSignalEventSchema = eventSchema('session.signal', 'A signal about a live session.', {
  signal: Type.Object(
    {
      kind: Id('Signal kind, e.g. "caep.session-revoked" or "risk-level-change".'),
      source: Type.Optional(ShortText('Who reported it.')),
      level: Type.Optional(Type.Union([Type.Literal('low'), Type.Literal('medium'), Type.Literal('high')])),
      reason: Type.Optional(ShortText('Why.', 2000)),
    },
    { additionalProperties: false },
  ),
});

export const EVENT_SCHEMAS = {
  login: LoginEventSchema,
  mfa: MfaEventSchema,
  transaction: TransactionEventSchema,
  'role.change': RoleChangeEventSchema,
  'access.request': AccessRequestEventSchema,
  'agent.action': AgentActionEventSchema,
  'session.signal': SessionSignalEventSchema,
} as const satisfies Record<EventType, TSchema>;

export type Subject = Static<typeof SubjectSchema>;
export type Actor = Static<typeof ActorSchema>;
export type Geo = Static<typeof GeoSchema>;
export type EventContext = Static<typeof ContextSchema>;

type Normalised<T extends { actor?: unknown; time?: unknown; context?: unknown; version?: unknown }> = Omit<
  T,
  'actor' | 'time' | 'context' | 'version'
> & {
  version: 1;
  actor: Actor;
  time: string;
  context: EventContext;
  /** When Loopgate received the event (RFC 3339). */
  received_at: string;
};

export type LoginEvent = Normalised<Static<typeof LoginEventSchema>>;
export type MfaEvent = Normalised<Static<typeof MfaEventSchema>>;
export type TransactionEvent = Normalised<Static<typeof TransactionEventSchema>>;
export type RoleChangeEvent = Normalised<Static<typeof RoleChangeEventSchema>> & {
  roles: { before: string[]; after: string[]; added: string[]; removed: string[] };
};
export type AccessRequestEvent = Normalised<Static<typeof AccessRequestEventSchema>>;
export type AgentActionEvent = Normalised<Static<typeof AgentActionEventSchema>>;
export type SessionSignalEvent = Normalised<Static<typeof SessionSignalEventSchema>>;

/** A validated event with its defaults applied. */
export type LoopgateEvent =
  | LoginEvent
  | MfaEvent
  | TransactionEvent
  | RoleChangeEvent
  | AccessRequestEvent
  | AgentActionEvent
  | SessionSignalEvent;

export function isEventType(value: unknown): value is EventType {
  return typeof value === 'string' && (EVENT_TYPES as readonly string[]).includes(value);
}
