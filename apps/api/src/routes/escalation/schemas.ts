/** TypeBox schemas for /api/recipient-groups and /api/escalation-policies. */
import { type TSchema, Type } from 'typebox';

const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);
// Type arrays, not anyOf: the API's Ajv coerces types and would turn null into "".
const NullableString = (o: object = {}) => Type.Unsafe<string | null>({ type: ['string', 'null'], ...o });
const Uuid = Type.String({ format: 'uuid' });
const Name = Type.String({ minLength: 1, maxLength: 100 });
const Severity = Type.Enum(['critical', 'major', 'minor', 'warning']);
const PolicyScopeKind = Type.Enum(['all', 'region', 'customer', 'device']);

export const IdParams = Type.Object({ id: Uuid });

const memberIds = Type.Array(Uuid, {
  maxItems: 200,
  uniqueItems: true,
  description: 'recipient ids; every enabled member is told when a tier names the group',
});

export const CreateGroupBody = Type.Object(
  {
    name: Name,
    description: Type.Optional(NullableString({ maxLength: 500 })),
    memberIds: Type.Optional(memberIds),
  },
  { additionalProperties: false },
);

export const UpdateGroupBody = Type.Object(
  {
    name: Type.Optional(Name),
    description: Type.Optional(NullableString({ maxLength: 500 })),
    memberIds: Type.Optional(memberIds),
  },
  { additionalProperties: false, minProperties: 1 },
);

export const Group = Type.Object({
  id: Type.String(),
  name: Type.String(),
  description: Nullable(Type.String()),
  members: Type.Array(Type.Object({ id: Type.String(), name: Type.String() })),
  createdAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' }),
});
export const GroupList = Type.Object({ items: Type.Array(Group) });

const TierBody = Type.Object(
  {
    delaySec: Type.Integer({
      minimum: 0,
      maximum: 604_800,
      description:
        'seconds the alert must stay open and unacknowledged after the previous tier was told (tier 1: after the alert was told; usually 0)',
    }),
    recipientIds: Type.Optional(Type.Array(Uuid, { maxItems: 50, uniqueItems: true })),
    groupIds: Type.Optional(Type.Array(Uuid, { maxItems: 20, uniqueItems: true })),
  },
  { additionalProperties: false },
);
const tiers = Type.Array(TierBody, { minItems: 1, maxItems: 10, description: 'tier 1 first' });
const severities = Type.Array(Severity, { uniqueItems: true, description: 'empty or absent: every severity' });
const scopeValue = NullableString({
  maxLength: 100,
  description: 'region / customer name, or device id for device; null for all',
});

export const CreatePolicyBody = Type.Object(
  {
    name: Name,
    enabled: Type.Optional(Type.Boolean()),
    scopeKind: PolicyScopeKind,
    scopeValue: Type.Optional(scopeValue),
    severities: Type.Optional(severities),
    tiers,
  },
  { additionalProperties: false },
);

export const UpdatePolicyBody = Type.Object(
  {
    name: Type.Optional(Name),
    enabled: Type.Optional(Type.Boolean()),
    scopeKind: Type.Optional(PolicyScopeKind),
    scopeValue: Type.Optional(scopeValue),
    severities: Type.Optional(severities),
    tiers: Type.Optional(tiers),
  },
  { additionalProperties: false, minProperties: 1 },
);

export const Policy = Type.Object({
  id: Type.String(),
  name: Type.String(),
  enabled: Type.Boolean(),
  scopeKind: PolicyScopeKind,
  scopeValue: Nullable(Type.String()),
  severities: Type.Array(Type.String()),
  tiers: Type.Array(
    Type.Object({
      tier: Type.Integer(),
      delaySec: Type.Integer(),
      recipientIds: Type.Array(Type.String()),
      groupIds: Type.Array(Type.String()),
    }),
  ),
  createdAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' }),
});
export const PolicyList = Type.Object({ items: Type.Array(Policy) });

/** GET /api/alerts/{id}: the alert's escalation (null when no policy matched it). */
export const AlertEscalation = Nullable(
  Type.Object({
    policyId: Nullable(Type.String({ description: 'null once the policy was deleted' })),
    policyName: Type.String(),
    nextTier: Nullable(Type.Integer({ description: 'the tier it waits to tell; null once stopped' })),
    nextAt: Nullable(Type.String({ format: 'date-time' })),
    stoppedReason: Nullable(
      Type.String({ description: 'acknowledged, cleared, voided, exhausted (every tier told), policy_removed' }),
    ),
    startedAt: Type.String({ format: 'date-time' }),
    steps: Type.Array(
      Type.Object({
        tier: Type.Integer(),
        recipientId: Nullable(Type.String()),
        recipientName: Nullable(Type.String()),
        outcome: Type.String({
          description:
            'notified, quiet_hours (held back), disabled (recipient disabled), acknowledged / cleared / voided (stopped), no_targets, policy_removed',
        }),
        at: Type.String({ format: 'date-time' }),
      }),
    ),
  }),
);
