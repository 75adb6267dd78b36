/** TypeBox schemas of /api/rollouts (they feed the OpenAPI document). */
import { Type } from 'typebox';

const Name = (description: string) => Type.String({ minLength: 1, maxLength: 200, description });

export const RolloutScope = Type.Object(
  {
    region: Type.Optional(Name('devices of this region')),
    customer: Type.Optional(Name('devices of this customer')),
    profile: Type.Optional(Name('devices of this profile (id or name)')),
    devices: Type.Optional(
      Type.Array(Name('a device id or name'), {
        minItems: 1,
        maxItems: 10_000,
        description: 'only these devices (ids or names)',
      }),
    ),
  },
  {
    additionalProperties: false,
    description:
      'Which devices: every criterion given must match (AND); {} is every device you see. Fixed at creation as the device list.',
  },
);

export const CreateBody = Type.Object(
  {
    firmwareId: Type.String({ format: 'uuid', description: 'the firmware to roll out (GET /api/firmware)' }),
    scope: Type.Optional(RolloutScope),
    rollbackOf: Type.Optional(
      Type.String({
        format: 'uuid',
        description:
          "instead of scope: the devices an earlier rollout assigned (roll them back by giving the previous version's firmwareId)",
      }),
    ),
    waves: Type.Array(Type.Integer({ minimum: 1, maximum: 100 }), {
      minItems: 1,
      maxItems: 20,
      description: 'cumulative percentages of the scope, increasing, the last 100 (e.g. [1, 10, 100])',
    }),
    maxConcurrent: Type.Integer({
      minimum: 1,
      maximum: 100_000,
      description: 'devices of this rollout assigned and not yet finished at most at once',
    }),
    failureThreshold: Type.Number({
      minimum: 0,
      maximum: 1,
      description: 'pause when failed / attempted devices of a wave exceed this (0.2 = 20 %)',
    }),
    successTimeoutSec: Type.Optional(
      Type.Integer({
        minimum: 10,
        maximum: 30 * 86_400,
        description:
          'a device not updated and back online this long after its assignment fails (default: three of its inactivity timeouts)',
      }),
    ),
  },
  { additionalProperties: false },
);

const Time = Type.Union([Type.String({ format: 'date-time' }), Type.Null()]);

export const StateCounts = Type.Object({
  pending: Type.Integer(),
  assigned: Type.Integer(),
  downloading: Type.Integer(),
  updated: Type.Integer(),
  failed: Type.Integer(),
  skipped: Type.Integer(),
  cancelled: Type.Integer(),
});

export const RolloutSummary = Type.Object({
  id: Type.String({ format: 'uuid' }),
  firmware: Type.Object({ id: Type.String(), title: Type.String(), version: Type.String() }),
  scope: Type.Unknown({ description: 'the scope as given (and the caller scope it was narrowed to)' }),
  waves: Type.Array(Type.Integer(), { description: 'the cumulative percentages asked for' }),
  maxConcurrent: Type.Integer(),
  failureThreshold: Type.Number(),
  successTimeoutSec: Type.Union([Type.Integer(), Type.Null()], { description: 'null: three inactivity timeouts' }),
  status: Type.Union([
    Type.Literal('running'),
    Type.Literal('paused'),
    Type.Literal('completed'),
    Type.Literal('cancelled'),
  ]),
  statusReason: Type.Union([Type.String(), Type.Null()], { description: 'why it paused or who stopped it' }),
  currentWave: Type.Integer({ description: '1-based' }),
  waveCount: Type.Integer(),
  devices: Type.Integer(),
  counts: StateCounts,
  createdBy: Type.Union([Type.String(), Type.Null()]),
  createdAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' }),
  finishedAt: Time,
});

export const WaveView = Type.Object({
  wave: Type.Integer({ description: '1-based' }),
  targetPercent: Type.Integer({ description: 'cumulative share of the scope this wave ends at' }),
  devices: Type.Integer(),
  counts: StateCounts,
  failureRate: Type.Number({
    description:
      'failed / (updated + failed + assigned + downloading), the rate the controller pauses on; 0 when none assigned yet',
  }),
});

export const RolloutDevice = Type.Object({
  deviceId: Type.String({ format: 'uuid' }),
  name: Type.String(),
  region: Type.Union([Type.String(), Type.Null()]),
  wave: Type.Integer({ description: '1-based' }),
  state: Type.String({ description: 'pending, assigned, downloading, updated, failed, skipped or cancelled' }),
  assignedAt: Time,
  finishedAt: Time,
  error: Type.Union([Type.String(), Type.Null()]),
  reported: Type.Union([
    Type.Object({
      title: Type.Union([Type.String(), Type.Null()]),
      version: Type.Union([Type.String(), Type.Null()]),
      state: Type.Union([Type.String(), Type.Null()]),
      at: Time,
    }),
    Type.Null(),
  ]),
});

export const RolloutDetail = Type.Object({
  ...RolloutSummary.properties,
  perWave: Type.Array(WaveView),
  perDevice: Type.Object({ items: Type.Array(RolloutDevice), total: Type.Integer() }),
});

export const ListQuery = Type.Object(
  {
    status: Type.Optional(
      Type.Union([
        Type.Literal('running'),
        Type.Literal('paused'),
        Type.Literal('completed'),
        Type.Literal('cancelled'),
      ]),
    ),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })),
    offset: Type.Optional(Type.Integer({ minimum: 0, default: 0 })),
  },
  { additionalProperties: false },
);

export const DetailQuery = Type.Object(
  {
    wave: Type.Optional(Type.Integer({ minimum: 1, description: 'only devices of this wave (1-based)' })),
    state: Type.Optional(
      Type.Union(
        ['pending', 'assigned', 'downloading', 'updated', 'failed', 'skipped', 'cancelled'].map((s) => Type.Literal(s)),
        { description: 'only devices in this state' },
      ),
    ),
    limit: Type.Optional(Type.Integer({ minimum: 0, maximum: 1000, default: 100, description: 'devices listed' })),
    offset: Type.Optional(Type.Integer({ minimum: 0, default: 0 })),
  },
  { additionalProperties: false },
);

export const Params = Type.Object({ id: Type.String({ format: 'uuid' }) });
