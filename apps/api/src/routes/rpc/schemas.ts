/** TypeBox schemas of persistent RPC history and state (docs/rpc.md). */
import { RPC_STATUSES } from '@spms/device-auth';
import { Type } from 'typebox';

export const RpcStatusSchema = Type.Union(
  RPC_STATUSES.map((s) => Type.Literal(s)),
  { description: RPC_STATUSES.join(' | ') },
);

const Time = Type.Union([Type.String({ format: 'date-time' }), Type.Null()]);

export const RpcView = Type.Object({
  id: Type.String({ description: 'rpcId' }),
  deviceId: Type.String(),
  deviceName: Type.String(),
  requestId: Type.Integer({ description: 'the id the device sees in v1/devices/me/rpc/request/<id>' }),
  method: Type.String(),
  params: Type.Unknown(),
  oneway: Type.Boolean(),
  persistent: Type.Boolean(),
  status: RpcStatusSchema,
  response: Type.Unknown({ description: "the device's answer (SUCCESSFUL), else null" }),
  error: Type.Union([Type.String(), Type.Null()]),
  retries: Type.Integer(),
  attempts: Type.Integer({ description: 'times it was sent' }),
  timeoutMs: Type.Integer(),
  expirationTime: Type.Number({ description: 'epoch ms' }),
  additionalInfo: Type.Unknown(),
  createdBy: Type.Union([Type.String(), Type.Null()]),
  createdAt: Type.String({ format: 'date-time' }),
  sentAt: Time,
  deliveredAt: Time,
  completedAt: Time,
  updatedAt: Type.String({ format: 'date-time' }),
});

export const RpcListQuery = Type.Object(
  {
    status: Type.Optional(RpcStatusSchema),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
    cursor: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 2_147_483_647, description: 'nextCursor of the previous page' }),
    ),
  },
  { additionalProperties: false },
);

export const RpcListReply = Type.Object({
  items: Type.Array(RpcView),
  nextCursor: Type.Union([Type.String(), Type.Null()], { description: 'null on the last page' }),
});

export const RpcIdParams = Type.Object({
  rpcId: Type.String({ format: 'uuid', description: 'the rpcId a persistent RPC was answered with' }),
});
