/** TypeBox schemas for the operator's device commands (shared attributes, server-side RPC). */
import { Type } from 'typebox';

export const DeviceRefParams = Type.Object({
  idOrName: Type.String({ minLength: 1, maxLength: 64, description: 'device id or name (e.g. 0003_MSAN)' }),
});

const AttributeKey = Type.String({ minLength: 1, maxLength: 255, pattern: '^[^\\s]' });
const Values = Type.Record(Type.String({ minLength: 1, maxLength: 255 }), Type.Unknown());

export const PushAttributesBody = Type.Object(
  {
    shared: Type.Optional(Values),
    deleted: Type.Optional(Type.Array(AttributeKey, { maxItems: 1000 })),
  },
  { additionalProperties: false },
);

export const PushAttributesReply = Type.Object({
  deviceId: Type.String(),
  updated: Type.Array(Type.String()),
  deleted: Type.Array(Type.String()),
  /** Live sessions the push reached (0: the device gets the values when it asks for them). */
  delivered: Type.Integer(),
});

export const DeviceAttributesReply = Type.Object({
  client: Values,
  shared: Values,
  server: Values,
});

export const RpcBody = Type.Object(
  {
    method: Type.String({ minLength: 1, maxLength: 255 }),
    params: Type.Optional(Type.Unknown()),
    timeoutMs: Type.Optional(
      Type.Integer({
        minimum: 100,
        maximum: 300_000,
        description: 'ms to wait for the answer (persistent: per attempt, after sending); default 10000',
      }),
    ),
    timeout: Type.Optional(
      Type.Integer({ minimum: 100, maximum: 300_000, description: "ThingsBoard's name for timeoutMs" }),
    ),
    oneway: Type.Optional(Type.Boolean({ description: 'do not wait for the device to answer' })),
    persistent: Type.Optional(
      Type.Boolean({
        description: 'store it and deliver it when the device next connects; answered at once with its rpcId',
      }),
    ),
    expirationTime: Type.Optional(
      Type.Integer({
        minimum: 0,
        description:
          'epoch ms after which it is no longer delivered or awaited (persistent: default now + RPC_PERSISTENT_DEFAULT_TTL_MS; non-persistent: replaces the timeout)',
      }),
    ),
    retries: Type.Optional(
      Type.Integer({
        minimum: 0,
        description: 'persistent only: further attempts after one times out (default 0, at most RPC_MAX_RETRIES)',
      }),
    ),
    additionalInfo: Type.Optional(
      Type.Unknown({ description: 'persistent only: kept with the RPC, shown in its history' }),
    ),
  },
  { additionalProperties: false },
);

export const RpcReply = Type.Object({
  requestId: Type.Integer(),
  response: Type.Optional(Type.Unknown()),
  rpcId: Type.Optional(Type.String({ description: 'persistent RPC: its id (GET /api/rpc/{rpcId})' })),
  status: Type.Optional(Type.String({ description: 'persistent RPC: its state (QUEUED)' })),
});
