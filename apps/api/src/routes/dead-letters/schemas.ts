/** TypeBox schemas for /api/dead-letters. */
import { type TSchema, Type } from 'typebox';

const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);

export const DeadLetter = Type.Object({
  id: Type.String({ description: 'dead letter id (a bigint as a string)' }),
  queue: Type.String(),
  jobId: Type.String(),
  messageId: Nullable(Type.String({ description: 'null for a whole-job dead letter' })),
  deviceId: Nullable(Type.String()),
  deviceName: Nullable(Type.String()),
  region: Nullable(Type.String()),
  customer: Nullable(Type.String()),
  reason: Type.String({ description: 'why the worker refused it' }),
  payload: Type.Unknown({ description: 'the raw queued message (or job) as the worker received it' }),
  receivedAt: Nullable(Type.String({ format: 'date-time', description: 'gateway receive time' })),
  failedAt: Type.String({ format: 'date-time' }),
  status: Type.Enum(['open', 'replayed', 'discarded']),
  replayedAt: Nullable(Type.String({ format: 'date-time' })),
  resolvedBy: Nullable(Type.String()),
});

export const DeadLetterList = Type.Object({
  items: Type.Array(DeadLetter),
  total: Type.Integer({ description: 'dead letters matching the filters in your scope (all pages)' }),
  nextCursor: Nullable(Type.String({ description: 'pass as `cursor` for the next page' })),
});

export const DeadLetterParams = Type.Object({ id: Type.String({ pattern: '^[1-9][0-9]{0,17}$' }) });

export const DeadLetterQuery = Type.Object(
  {
    device: Type.Optional(Type.String({ minLength: 1, description: 'device id or name' })),
    status: Type.Optional(Type.Enum(['open', 'replayed', 'discarded'])),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })),
    cursor: Type.Optional(Type.String({ description: 'nextCursor of the previous page' })),
  },
  { additionalProperties: false },
);
